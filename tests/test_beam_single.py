"""seqlabel.decoders.beam_single: an utterance decoded alone over Python lists gives what the lockstep
search gives, to the bit (both paths forced), and which path an utterance takes."""
from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from helpers import exact_labelling_log_probs, random_log_probs

import seqlabel.decoders.beam as beam_module
import seqlabel.decoders.beam_tables as beam_tables
from seqlabel.decoders import CTCPrefixBeamSearch
from seqlabel.decoders.beam_single import logaddexp, single_is_cheaper
from seqlabel.lm import Lexicon, NgramLM

TOKENS = ["<blank>", "|", "a", "b"]
PHONES = ["<blank>", "x", "y", "z"]


@pytest.fixture
def force(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """force(True): every utterance alone takes the Python path; force(False): the lockstep one."""
    def choose(single: bool) -> None:
        monkeypatch.setattr(beam_module, "single_is_cheaper", lambda *args: single)
    return choose


def build(mode: str, char_lm: NgramLM, word_lm: NgramLM) -> CTCPrefixBeamSearch:
    options: dict = {"beam": 6, "nbest": 4}
    tokens = TOKENS
    if mode == "pruned":
        options.update(token_min_logp=-1.5, blank_threshold=0.7, beam_threshold=4.0, token_topk=2)
    elif mode == "bonus":
        options.update(insertion_bonus=0.4, beam_threshold=6.0)
    elif mode == "token_lm":
        options.update(lm=char_lm, lm_weight=0.7, insertion_bonus=0.3)
    elif mode == "word_lm":
        options.update(lm=word_lm, lm_unit="word", lm_weight=0.7, insertion_bonus=0.3)
    elif mode == "lexicon":
        options.update(lexicon=Lexicon.from_words(["ab", "ba", "a"]))
    elif mode == "lexicon_token_lm":
        options.update(lm=char_lm, lm_weight=0.5, lexicon=Lexicon.from_words(["ab", "ba", "a"]))
    elif mode == "lexicon_word_lm":
        options.update(lm=word_lm, lm_unit="word", lm_weight=0.7, insertion_bonus=-0.2,
                       lexicon=Lexicon.from_words(["ab", "ba", "a", "b"]))
    elif mode.startswith("phones"):
        tokens = PHONES
        lexicon = Lexicon.from_pronunciations([("ab", ["x", "y"]), ("a", ["x"]), ("ba", ["z", "y"]),
                                               ("b", ["z"])])
        options.update(lexicon=lexicon, word_boundary=None)
        if mode == "phones_word_lm":
            options.update(lm=word_lm, lm_unit="word", lm_weight=0.5, insertion_bonus=0.2)
    return CTCPrefixBeamSearch(tokens, **options)


MODES = ["plain", "pruned", "bonus", "token_lm", "word_lm", "lexicon", "lexicon_token_lm", "lexicon_word_lm",
         "phones", "phones_word_lm"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(4))
def test_alone_equals_lockstep_to_the_bit(mode: str, seed: int, force: Callable[[bool], None],
                                          char_lm: NgramLM, word_lm: NgramLM) -> None:
    """Ids, words and every score equal, not close: the same steps, float operations and ties."""
    search = build(mode, char_lm, word_lm)
    lp = random_log_probs(16, 4, seed, scale=2.5 + seed)
    lp32 = lp.astype(np.float32)
    force(False)
    lockstep = [search(lp), search(lp32), search(lp[:0])]
    force(True)
    alone = [search(lp), search(lp32), search(lp[:0])]
    assert alone == lockstep
    assert len(alone[0]) > 1  # the n-best lists are not trivial


def test_rows_dropped_from_the_list_caches_are_made_again(monkeypatch: pytest.MonkeyPatch,
                                                          force: Callable[[bool], None], char_lm: NgramLM,
                                                          word_lm: NgramLM) -> None:
    monkeypatch.setattr(beam_tables, "_LIST_ROWS", 2)
    for mode in ("token_lm", "lexicon_word_lm", "phones_word_lm"):
        search = build(mode, char_lm, word_lm)
        lp = random_log_probs(16, 4, seed=7, scale=3.0)
        force(False)
        lockstep = search(lp)
        force(True)
        assert search(lp) == lockstep
        caches = [table._rows for table in (search._token_lm, search._trie) if table is not None]
        caches += [search._closer._one] if search._closer is not None else []
        assert caches and all(len(cache) <= 2 for cache in caches)


@pytest.mark.parametrize("seed", range(4))
def test_alone_is_exhaustive_search_with_a_wide_beam(seed: int, force: Callable[[bool], None]) -> None:
    lp = random_log_probs(5, 4, seed)
    exact = exact_labelling_log_probs(lp)
    force(True)
    results = CTCPrefixBeamSearch(TOKENS, beam=2000, nbest=2000)(lp)
    assert {r.ids for r in results} == set(exact)
    for r in results:
        assert r.score == pytest.approx(exact[r.ids], abs=1e-9)


@pytest.mark.parametrize("single", [True, False])
def test_an_emptied_beam_ends_with_one_result_scored_minus_inf(single: bool, force: Callable[[bool], None]) -> None:
    """The first frame is surely "b", which no word of the lexicon starts with: no hypothesis survives."""
    with np.errstate(divide="ignore"):
        lp = np.log(np.array([[0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]))
    force(single)
    (result,) = CTCPrefixBeamSearch(TOKENS, beam=4, nbest=3, lexicon=Lexicon.from_words(["a"]))(lp)
    assert (result.ids, result.words, result.score) == ((), (), -np.inf)


def test_logaddexp_is_numpys_to_the_bit() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 20.0, 5000)
    y = x + rng.normal(0.0, 2.0, 5000)
    x[:10], y[5:15], y[20:30] = -np.inf, -np.inf, x[20:30]
    ours = np.array([logaddexp(a, b) for a, b in zip(x.tolist(), y.tolist())])
    assert np.array_equal(ours, np.logaddexp(x, y))


def test_which_path_an_utterance_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[str] = []
    for name in ("search_single", "search_lockstep"):
        def spy(*args: object, _real: Callable = getattr(beam_module, name), _name: str = name) -> object:
            taken.append(_name)
            return _real(*args)
        monkeypatch.setattr(beam_module, name, spy)
    lp = random_log_probs(12, 4, seed=0)
    CTCPrefixBeamSearch(TOKENS, beam=8)(lp)  # alone, narrow: Python
    CTCPrefixBeamSearch(TOKENS, beam=500)(lp)  # alone, 3 tokens x 500 hypotheses a step: numpy
    CTCPrefixBeamSearch(TOKENS, beam=8).batch(np.stack([lp, lp]))  # together: lockstep
    CTCPrefixBeamSearch(TOKENS, beam=8, batch_size=1).batch(np.stack([lp, lp]))  # one at a time: Python
    assert taken == ["search_single", "search_lockstep", "search_lockstep", "search_single", "search_single"]
    assert single_is_cheaper(16, 3 * 40, 40) and not single_is_cheaper(64, 27 * 40, 40)
