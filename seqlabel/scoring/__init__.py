"""Scoring hypotheses against references, never models or decoders: the sclite-exact alignment and
corpus error rates (``metrics``), TIMIT phone folding tables (``folding``), bootstrap intervals and
paired tests (``significance``), system combination by voting (``rover``), report files (``report``,
``evaluation``) and plots (``plot``)."""
from seqlabel.scoring.metrics import score

__all__ = ["score"]
