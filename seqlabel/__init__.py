"""seqlabel: deep bidirectional LSTM stacks trained with CTC for speech and handwriting.

Data flows one way::

    audio / image / strokes -> features -> batches -> model -> log-probs -> decoder -> hypotheses -> metrics

Shape legend used throughout: B batch, T time (frames), F feature dims, C classes (blank = 0),
L label sequence length.
"""

__version__ = "0.1.0"
