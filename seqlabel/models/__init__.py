"""The network: (B, T, F) features and (B,) lengths -> (B, T', C) CTC log-probs and (B,) output
lengths. ``bilstm`` holds the deep BiLSTM stack with its optional convolutional front end and frame
stacking, and ``build_model`` from a ``ModelConfig``; ``checkpoint`` the file format that carries a
trained model (atomic writes, SHA-256 footer, weights-only loading)."""
from seqlabel.models.bilstm import BiLSTMCTC, build_model
from seqlabel.models.checkpoint import load_checkpoint, save_checkpoint
from seqlabel.models.lengths import output_lengths

__all__ = ["BiLSTMCTC", "build_model", "output_lengths", "load_checkpoint", "save_checkpoint"]
