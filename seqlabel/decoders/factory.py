"""The decoder a ``decode`` config asks for (``DECODERS``: greedy or the prefix beam search), with its
language model and lexicon loaded from files."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Optional

from seqlabel.config import DecodeConfig
from seqlabel.data.vocab import Vocab
from seqlabel.decoders.beam import CTCPrefixBeamSearch
from seqlabel.decoders.greedy import GreedyDecoder
from seqlabel.decoders.protocols import Decoder, LanguageModel
from seqlabel.errors import ConfigError, DataError
from seqlabel.lm.lexicon import Lexicon
from seqlabel.textfile import read_lines


def load_lm(path: str | Path) -> LanguageModel:
    """An ARPA n-gram LM (``seqlabel.lm.NgramLM``)."""
    from seqlabel.lm import NgramLM

    if not Path(path).is_file():
        raise DataError(f"LM file not found: {path}")
    return NgramLM.read_arpa(path)


def load_lexicon(path: str | Path, vocab: Vocab, lowercase: bool = False) -> Lexicon:
    """A lexicon for ``vocab``'s units from a word list (one word a line) or a pronunciation
    dictionary (``WORD tok tok ...``). Character models use the words (the first column) spelled
    as characters; phone models need the dictionary's pronunciations."""
    from seqlabel.lm import Lexicon
    from seqlabel.lm.lexicon import LEXICON_WHAT

    path = Path(path)
    if not path.is_file():
        raise DataError(f"lexicon file not found: {path}")
    lines = [ln.split() for ln in read_lines(path, LEXICON_WHAT)
             if ln.strip() and not ln.lstrip().startswith((";;;", "#"))]
    if not lines:
        raise DataError(f"{path}: no words")
    if vocab.unit == "char":
        words = [re.sub(r"\(\d+\)$", "", fields[0]) for fields in lines]
        if lowercase:
            words = [w.lower() for w in words]
        try:
            return Lexicon.from_words(dict.fromkeys(words), "char", vocab.word_boundary)
        except DataError as e:
            raise DataError(f"{path}: {e}") from None
    if all(len(fields) == 1 for fields in lines):
        raise DataError(f"{path} is a word list, but the model's tokens are phones: "
                        "give a pronunciation dictionary (lines 'WORD ph ph ...')")
    return Lexicon.from_dict_file(path, unit="phone", word_boundary=vocab.word_boundary)


def build_decoder(config: DecodeConfig, vocab: Vocab, lowercase: bool = False, lm: Optional[LanguageModel] = None,
                  lexicon: Optional[Lexicon] = None) -> Decoder:
    """The decoder ``config.decoder`` names (see ``DECODERS``). ``lm``/``lexicon`` objects, when given,
    are used instead of loading ``config.lm``/``config.lexicon``."""
    if config.decoder not in DECODERS:
        raise ConfigError(f"decode.decoder must be one of {sorted(DECODERS)}, got {config.decoder!r}")
    return DECODERS[config.decoder](config, vocab, lowercase, lm, lexicon)


def _greedy(config: DecodeConfig, vocab: Vocab, lowercase: bool, lm: Optional[LanguageModel],
            lexicon: Optional[Lexicon]) -> Decoder:
    return GreedyDecoder()


def _beam(config: DecodeConfig, vocab: Vocab, lowercase: bool, lm: Optional[LanguageModel],
          lexicon: Optional[Lexicon]) -> Decoder:
    if lm is None and config.lm:
        lm = load_lm(config.lm)
    if lexicon is None and config.lexicon:
        lexicon = load_lexicon(config.lexicon, vocab, lowercase)
    try:
        return CTCPrefixBeamSearch(
            vocab.tokens, beam=config.beam, nbest=config.nbest, token_topk=config.token_topk,
            token_min_logp=config.token_min_logp, blank_threshold=config.blank_threshold,
            beam_threshold=config.beam_threshold, lm=lm, lm_unit=config.lm_unit, lm_weight=config.lm_weight,
            insertion_bonus=config.insertion_bonus, lexicon=lexicon,
            word_boundary=vocab.word_boundary if vocab.unit == "char" else None)
    except ValueError as e:
        raise ConfigError(f"decode: {e}") from None


# decode.decoder -> how to build it: the one registry of decoders (a new one is a function here)
DECODERS: dict[str, Callable[[DecodeConfig, Vocab, bool, Optional[LanguageModel], Optional[Lexicon]], Decoder]] = {
    "greedy": _greedy, "beam": _beam}
