"""A trained model put to use: a checkpoint made ready to transcribe (``recognizer.Recognizer``),
running a model over many utterances in length-sorted batches (``batch``) and deployable
TorchScript/ONNX files (``export``)."""
