"""CTC decoders: log-probs (B, T, C) with lengths (B,) -> label sequences.

Every decoder is a ``Decoder`` (``protocols``): ``GreedyDecoder`` (best path; ``greedy_search`` is the
same as a pure function over padded tensors) and ``CTCPrefixBeamSearch`` (prefix beam search with
fusion of any ``LanguageModel`` and lexicon constraints), built by name from a decode config
(``factory.build_decoder``, ``factory.DECODERS``). Also ``forced_align`` (a transcript's alignment)
and CTM output.
"""
from seqlabel.decoders.align import Alignment, TokenSpan, align_batch, forced_align, path_alignment
from seqlabel.decoders.beam import BeamResult, CTCPrefixBeamSearch, check_log_probs, ctc_prefix_beam_search
from seqlabel.decoders.ctm import CtmEntry, ctm_entries, read_ctm, write_ctm
from seqlabel.decoders.greedy import GreedyDecoder, greedy_search
from seqlabel.decoders.protocols import Decoder, LanguageModel

__all__ = ["Alignment", "BeamResult", "CTCPrefixBeamSearch", "CtmEntry", "Decoder", "GreedyDecoder", "LanguageModel", "TokenSpan", "align_batch",
           "check_log_probs", "ctc_prefix_beam_search", "ctm_entries", "forced_align", "greedy_search",
           "path_alignment", "read_ctm", "write_ctm"]
