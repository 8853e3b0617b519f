"""CTC decoders: log-probs (B, T, C) with lengths (B,) -> label sequences.

``greedy_search`` (best path), ``CTCPrefixBeamSearch`` / ``ctc_prefix_beam_search`` (prefix beam
search with n-gram LM fusion and lexicon constraints), ``forced_align`` (a transcript's alignment),
and CTM output.
"""
from seqlabel.decoders.align import Alignment, TokenSpan, align_batch, forced_align, path_alignment
from seqlabel.decoders.beam import BeamResult, CTCPrefixBeamSearch, check_log_probs, ctc_prefix_beam_search
from seqlabel.decoders.ctm import CtmEntry, ctm_entries, read_ctm, write_ctm
from seqlabel.decoders.greedy import greedy_search

__all__ = ["Alignment", "BeamResult", "CTCPrefixBeamSearch", "CtmEntry", "TokenSpan", "align_batch",
           "check_log_probs", "ctc_prefix_beam_search", "ctm_entries", "forced_align", "greedy_search",
           "path_alignment", "read_ctm", "write_ctm"]
