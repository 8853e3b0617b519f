"""The ``decode`` section: greedy or prefix beam search, pruning, LM fusion, lexicon."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from seqlabel.config.checks import check_choice, check_positive
from seqlabel.errors import ConfigError

BEAM_ONLY = {"lm": None, "lexicon": None, "nbest": 1}  # settings the greedy decoder ignores, with their defaults


@dataclass
class DecodeConfig:
    decoder: str = "greedy"  # greedy | beam (CTC prefix beam search)
    beam: int = 16  # hypotheses kept per frame
    nbest: int = 1  # hypotheses returned per utterance (<= beam)
    token_topk: int = 0  # per frame, extend with at most this many tokens (0: no limit)
    token_min_logp: Optional[float] = -8.0  # per frame, tokens below this log-prob start nothing (null: none)
    blank_threshold: Optional[float] = 0.999  # frames with blank probability >= this start nothing (null: off)
    beam_threshold: Optional[float] = 15.0  # drop hypotheses this far (log) below the best (null: off)
    lm: Optional[str] = None  # ARPA n-gram LM file over lm_unit units; null: none
    lm_unit: str = "token"  # token: LM over the model's tokens (chars, phones); word: over words
    lm_weight: float = 0.5  # shallow-fusion weight of the LM log-prob
    insertion_bonus: float = 0.0  # added per token (token LM, no LM) or per word (word LM)
    lexicon: Optional[str] = None  # word list or pronunciation dictionary: only its words are decoded

    def __post_init__(self) -> None:
        check_choice("decode.decoder", self.decoder, ("greedy", "beam"))
        check_choice("decode.lm_unit", self.lm_unit, ("token", "word"))
        check_positive("decode.beam", self.beam)
        check_positive("decode.nbest", self.nbest)
        if self.nbest > self.beam:
            raise ConfigError(f"decode.nbest ({self.nbest}) must be <= decode.beam ({self.beam})")
        if self.token_topk < 0:
            raise ConfigError(f"decode.token_topk must be >= 0 (0: no limit), got {self.token_topk}")
        if self.token_min_logp is not None and self.token_min_logp > 0:
            raise ConfigError(f"decode.token_min_logp is a log-probability (<= 0), got {self.token_min_logp}")
        if self.blank_threshold is not None and not 0.0 < self.blank_threshold <= 1.0:
            raise ConfigError(f"decode.blank_threshold must be in (0, 1] or null, got {self.blank_threshold}")
        if self.beam_threshold is not None:
            check_positive("decode.beam_threshold", self.beam_threshold)
        if self.lm_weight < 0:
            raise ConfigError(f"decode.lm_weight must be >= 0, got {self.lm_weight}")
        if self.decoder == "greedy":
            ignored = [f"decode.{key}={getattr(self, key)}" for key, default in BEAM_ONLY.items()
                       if getattr(self, key) != default]
            if ignored:
                them = "these" if len(ignored) > 1 else "it"
                raise ConfigError(f"{', '.join(ignored)}: only the beam search uses {them}, and decode.decoder is "
                                  f"greedy, which would ignore {them}: add --decoder beam (or -o "
                                  "decode.decoder=beam; decoder: beam in a config's decode section), or leave "
                                  f"{' and '.join(i.split('=')[0] for i in ignored)} out")
