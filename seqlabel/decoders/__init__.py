"""CTC decoders: log-probs (B, T, C) with lengths (B,) -> label sequences."""
from seqlabel.decoders.greedy import greedy_search

__all__ = ["greedy_search"]
