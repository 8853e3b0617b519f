"""seqlabel.decoders.beam against exhaustive search over label sequences: pruning, LM fusion,
lexicons, bad input, hypotheses (the commands: test_beam_cli.py)."""
from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
import torch
from helpers import collapse, exact_labelling_log_probs, random_log_probs

from seqlabel.config import DecodeConfig, config_from_data
from seqlabel.data.vocab import Vocab
from seqlabel.decoders import CTCPrefixBeamSearch, GreedyDecoder, ctc_prefix_beam_search, greedy_search
from seqlabel.decoders.factory import build_decoder
from seqlabel.errors import ConfigError, VocabError
from seqlabel.inference.batch import decode_log_probs
from seqlabel.lm import Lexicon, NgramLM
from seqlabel.scoring.metrics import to_words

TOKENS = ["<blank>", "|", "a", "b"]  # a character model: blank, word boundary, two letters


# ----------------------------------------------------------------------------- exhaustive search
def peaky_log_probs(T: int, C: int, seed: int, peak: float = 0.95) -> np.ndarray:
    """Frames whose best class has probability >= ``peak``, like a trained CTC model's."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(C - 1), size=T) * (1 - peak)  # (T, C-1) the rest
    best = rng.integers(0, C, size=T)
    out = np.empty((T, C))
    for t in range(T):
        others = [c for c in range(C) if c != best[t]]
        out[t, best[t]] = peak
        out[t, others] = probs[t]
    return np.log(out)


def labels(ids: tuple[int, ...]) -> list[str]:
    return [TOKENS[i] for i in ids]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("T,C", [(1, 2), (3, 3), (5, 3), (4, 4), (5, 4)])
def test_wide_beam_is_exhaustive_search(seed: int, T: int, C: int) -> None:
    lp = random_log_probs(T, C, seed)
    exact = exact_labelling_log_probs(lp)
    results = CTCPrefixBeamSearch(TOKENS[:C], beam=2000, nbest=2000)(lp)
    best = max(exact, key=exact.get)
    assert results[0].ids == best
    assert {r.ids for r in results} == set(exact)  # every labelling, each once
    for r in results:  # n-best scores are the exact log-probabilities of their labellings
        assert r.score == pytest.approx(exact[r.ids], abs=1e-9)
        assert r.acoustic_score == r.score and r.lm_score is None
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


@pytest.mark.parametrize("seed", range(6))
def test_narrow_beam_nbest_scores_are_exact_labelling_probabilities(seed: int) -> None:
    lp = random_log_probs(5, 4, seed, scale=3.0)
    exact = exact_labelling_log_probs(lp)
    results = ctc_prefix_beam_search(lp[None], tokens=TOKENS, beam=8, nbest=4)[0]
    assert len(results) == 4
    for r in results:
        assert r.score <= exact[r.ids] + 1e-9  # a narrow beam may lose alignments, never invent them


@pytest.mark.parametrize("seed", range(10))
def test_beam_one_equals_greedy_on_peaky_frames(seed: int) -> None:
    """Beam 1 keeps one prefix with the summed probability of its alignments; that is the best path's
    labelling whenever each frame's best class has probability >= 0.9 (a trained model's frames). On
    flat frames prefix search and best path may legitimately differ."""
    T, C = 30, 5
    lp = peaky_log_probs(T, C, seed, peak=0.92)
    (greedy_ids, _), = greedy_search(torch.from_numpy(lp)[None], torch.tensor([T]))
    (result,) = CTCPrefixBeamSearch([str(i) for i in range(C)], beam=1)(lp)
    assert list(result.ids) == greedy_ids


@pytest.mark.parametrize("mode", ["plain", "pruned", "token_lm", "word_lm", "lexicon", "phones"])
def test_batch_equals_items_one_by_one(mode: str, char_lm: NgramLM, word_lm: NgramLM) -> None:
    """Utterances decoded together in lockstep give what each gives alone."""
    B, T, C = 6, 12, 4
    lp = np.stack([random_log_probs(T, C, s, scale=2.5) for s in range(B)])
    lengths = [12, 3, 0, 9, 12, 1]
    options: dict = {"beam": 5, "nbest": 3}
    tokens = TOKENS
    if mode == "pruned":
        options.update(token_min_logp=-1.5, blank_threshold=0.7, beam_threshold=4.0, token_topk=2)
    elif mode == "token_lm":
        options.update(lm=char_lm, lm_weight=0.7, insertion_bonus=0.3)
    elif mode == "word_lm":
        options.update(lm=word_lm, lm_unit="word", lm_weight=0.7, insertion_bonus=0.3)
    elif mode == "lexicon":
        options.update(lm=word_lm, lm_unit="word", lm_weight=0.7, lexicon=Lexicon.from_words(["ab", "ba", "a"]))
    elif mode == "phones":
        tokens = ["<blank>", "x", "y", "z"]
        lexicon = Lexicon.from_pronunciations([("ab", ["x", "y"]), ("a", ["x"]), ("ba", ["z", "y"])])
        options.update(lm=word_lm, lm_unit="word", lm_weight=0.5, lexicon=lexicon, word_boundary=None)
    search = CTCPrefixBeamSearch(tokens, **options)
    together = search.batch(torch.from_numpy(lp), torch.tensor(lengths))
    for b, n in enumerate(lengths):
        alone = search(lp[b, :n])
        assert [(r.ids, r.words) for r in together[b]] == [(r.ids, r.words) for r in alone]
        assert [r.score for r in together[b]] == pytest.approx([r.score for r in alone], abs=1e-9)
    assert [r.ids for r in together[2]] == [()]
    if mode == "plain":
        assert together[2][0].score == 0.0


def test_pruning_keeps_the_best_labelling_on_peaky_frames() -> None:
    lp = peaky_log_probs(40, 6, seed=3, peak=0.9)
    names = [str(i) for i in range(6)]
    full = CTCPrefixBeamSearch(names, beam=16)(lp)[0]
    for options in ({"token_topk": 2}, {"token_min_logp": -4.0}, {"blank_threshold": 0.9}, {"beam_threshold": 5.0},
                    {"token_topk": 1, "token_min_logp": -3.0, "blank_threshold": 0.85, "beam_threshold": 3.0}):
        pruned = CTCPrefixBeamSearch(names, beam=16, **options)(lp)[0]
        assert pruned.ids == full.ids, options
        assert pruned.score <= full.score + 1e-9


def exact_pruned_log_probs(log_probs: np.ndarray, min_logp: float | None, blank_threshold: float | None
                           ) -> dict[tuple[int, ...], float]:
    """Like exact_labelling_log_probs over the paths pruning allows: a token may only start at a frame
    where its log-prob is >= min_logp and the blank's probability is below blank_threshold."""
    T, C = log_probs.shape
    out: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(C), repeat=T):
        starts = [t for t, c in enumerate(path) if c != 0 and (t == 0 or path[t - 1] != c)]
        if any((min_logp is not None and log_probs[t, path[t]] < min_logp)
               or (blank_threshold is not None and log_probs[t, 0] >= math.log(blank_threshold)) for t in starts):
            continue
        key = collapse(path)
        out[key] = float(np.logaddexp(out.get(key, -np.inf), sum(log_probs[t, c] for t, c in enumerate(path))))
    return out


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("min_logp,blank_threshold", [(-1.5, None), (None, 0.5), (-2.0, 0.6)])
def test_pruning_restricts_where_tokens_start_and_keeps_scores_exact(seed: int, min_logp: float | None,
                                                                      blank_threshold: float | None) -> None:
    """Frames where nothing may start are applied in closed form; the scores stay the exact sums over
    the alignments the pruning allows."""
    lp = random_log_probs(6, 3, seed, scale=2.5)
    allowed = exact_pruned_log_probs(lp, min_logp, blank_threshold)
    results = CTCPrefixBeamSearch(TOKENS[:3], beam=1000, nbest=1000, token_min_logp=min_logp,
                                  blank_threshold=blank_threshold)(lp)
    assert {r.ids for r in results} == set(allowed)
    for r in results:
        assert r.score == pytest.approx(allowed[r.ids], abs=1e-9)


def test_blank_threshold_skips_blank_frames_but_keeps_their_probability() -> None:
    lp = np.log(np.array([[0.05, 0.9, 0.05], [0.999, 0.0005, 0.0005], [0.05, 0.05, 0.9]]))
    skipped = CTCPrefixBeamSearch(["<blank>", "a", "b"], beam=4, blank_threshold=0.99)(lp)[0]
    exact = exact_labelling_log_probs(lp)
    assert skipped.ids == (1, 2)
    assert skipped.score == pytest.approx(exact[(1, 2)], abs=1e-3)


# ----------------------------------------------------------------------------- language models
def test_lm_weight_zero_is_no_lm(char_lm: NgramLM) -> None:
    lp = random_log_probs(5, 4, seed=1)
    plain = CTCPrefixBeamSearch(TOKENS, beam=10, nbest=5)(lp)
    weightless = CTCPrefixBeamSearch(TOKENS, beam=10, nbest=5, lm=char_lm, lm_weight=0.0)(lp)
    assert weightless == plain
    fused = CTCPrefixBeamSearch(TOKENS, beam=10, nbest=5, lm=char_lm, lm_weight=0.7)
    assert fused.replace(lm_weight=0.0)(lp) == plain


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weight,bonus", [(0.5, 0.0), (1.3, 0.7), (0.2, -1.0)])
def test_token_lm_fusion_is_exact_with_a_wide_beam(char_lm: NgramLM, seed: int, weight: float, bonus: float) -> None:
    lp = random_log_probs(5, 4, seed)
    exact = exact_labelling_log_probs(lp)
    fused = {k: v + weight * char_lm.sentence_logprob(labels(k)) + bonus * len(k) for k, v in exact.items()}
    results = CTCPrefixBeamSearch(TOKENS, beam=2000, nbest=2000, lm=char_lm, lm_weight=weight,
                                  insertion_bonus=bonus)(lp)
    assert results[0].ids == max(fused, key=fused.get)
    assert len(results) == len(fused)
    for r in results:
        assert r.score == pytest.approx(fused[r.ids], abs=1e-9)
        assert r.acoustic_score == pytest.approx(exact[r.ids], abs=1e-9)
        assert r.lm_score == pytest.approx(char_lm.sentence_logprob(labels(r.ids)), abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_word_lm_scores_words_at_boundaries_and_the_end(word_lm: NgramLM, seed: int) -> None:
    weight, bonus = 0.8, 0.5
    lp = random_log_probs(5, 4, seed, scale=1.5)
    exact = exact_labelling_log_probs(lp)

    def fused(k: tuple[int, ...]) -> float:
        words = to_words(labels(k))
        return exact[k] + weight * word_lm.sentence_logprob(words) + bonus * len(words)

    results = CTCPrefixBeamSearch(TOKENS, beam=2000, nbest=2000, lm=word_lm, lm_unit="word", lm_weight=weight,
                                  insertion_bonus=bonus)(lp)
    assert results[0].ids == max(exact, key=fused)
    for r in results:
        assert r.score == pytest.approx(fused(r.ids), abs=1e-9)


# ----------------------------------------------------------------------------- lexicons
def lexicon_words(k: tuple[int, ...], lexicon: Lexicon) -> list[str] | None:
    """The words of a labelling if it is a sequence of dictionary words (None if not)."""
    if not k:
        return []
    pieces = "".join(labels(k)).split("|")
    if pieces[-1] == "":  # a trailing boundary closes the last word
        pieces = pieces[:-1]
    if not pieces or any(p not in lexicon for p in pieces):
        return None
    return pieces


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("lm_unit", [None, "word", "token"])
def test_lexicon_decodes_only_dictionary_words(word_lm: NgramLM, char_lm: NgramLM, seed: int,
                                               lm_unit: str | None) -> None:
    lexicon = Lexicon.from_words(["ab", "ba", "a"])
    lp = random_log_probs(6, 4, seed, scale=1.5)
    exact = exact_labelling_log_probs(lp)
    weight = 0.6
    allowed = {}
    for k, v in exact.items():
        words = lexicon_words(k, lexicon)
        if words is not None:
            fused = {None: 0.0, "word": word_lm.sentence_logprob(words) if lm_unit == "word" else 0.0,
                     "token": char_lm.sentence_logprob(labels(k)) if lm_unit == "token" else 0.0}[lm_unit]
            allowed[k] = v + weight * fused
    lm = {None: None, "word": word_lm, "token": char_lm}[lm_unit]
    search = CTCPrefixBeamSearch(TOKENS, beam=3000, nbest=3000, lexicon=lexicon, lm=lm, lm_unit=lm_unit or "token",
                                 lm_weight=weight)
    results = search(lp)
    assert results[0].ids == max(allowed, key=allowed.get)
    assert {r.ids for r in results} == set(allowed)
    for r in results:
        assert r.score == pytest.approx(allowed[r.ids], abs=1e-9)
        assert list(r.words) == lexicon_words(r.ids, lexicon)
        assert all(w in lexicon for w in r.words)


def test_pronunciation_lexicon_without_boundary_token(word_lm: NgramLM) -> None:
    """Phones: words end without a token, so one token sequence may be several word sequences;
    each hypothesis is one of them, scored with its own words."""
    phones = ["<blank>", "x", "y"]
    lexicon = Lexicon.from_pronunciations([("ab", ["x", "y"]), ("a", ["x"]), ("ba", ["y"]), ("b", ["y", "y"])])
    lp = random_log_probs(5, 3, seed=4, scale=1.0)
    exact = exact_labelling_log_probs(lp)
    weight, bonus = 0.5, 0.3
    results = CTCPrefixBeamSearch(phones, beam=3000, nbest=3000, lexicon=lexicon, lm=word_lm, lm_unit="word",
                                  lm_weight=weight, insertion_bonus=bonus, word_boundary=None)(lp)
    seen = set()
    for r in results:
        spelled = [p for w in r.words for p in lexicon.spellings(w)[0]]
        assert [phones[i] for i in r.ids] == spelled
        expected = exact[r.ids] + weight * word_lm.sentence_logprob(list(r.words)) + bonus * len(r.words)
        assert r.score == pytest.approx(expected, abs=1e-9)
        seen.add(r.words)
    assert len(seen) == len(results)  # segmentations are distinct hypotheses
    assert any(len({r.words for r in results if r.ids == k}) > 1 for k in {r.ids for r in results})


# ----------------------------------------------------------------------------- bad input
def test_bad_log_probs_are_refused() -> None:
    search = CTCPrefixBeamSearch(TOKENS, beam=4)
    lp = random_log_probs(5, 4, seed=0)
    nan = lp.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="frame 3 holds NaN"):
        search(nan)
    with pytest.raises(ValueError, match="not normalised.*frame 0"):
        search(lp + 1.0)
    with pytest.raises(ValueError, match="not normalised"):
        search(np.exp(lp))  # probabilities, not log-probabilities
    with pytest.raises(ValueError, match="3 classes but the decoder's vocabulary has 4"):
        search(random_log_probs(5, 3, seed=0))
    with pytest.raises(ValueError, match=r"3D \(B, T, C\)"):
        search.batch(lp)
    with pytest.raises(ValueError, match="lengths must lie in"):
        search.batch(lp[None], [6])


def test_vocabulary_mismatches_are_refused(char_lm: NgramLM, word_lm: NgramLM) -> None:
    with pytest.raises(VocabError, match=r"token LM does not know 1 of the model's tokens: \['c'\]"):
        CTCPrefixBeamSearch(TOKENS + ["c"], lm=char_lm, lm_weight=0.5)
    unknown = [chr(ord("k") + i) for i in range(12)]  # more than are shown: the rest counted, not dropped silently
    with pytest.raises(VocabError, match=r"does not know 12 of the model's tokens: \['k', .*'t', \.\.\. \(2 more\)\]"):
        CTCPrefixBeamSearch(TOKENS + unknown, lm=char_lm, lm_weight=0.5)
    with pytest.raises(VocabError, match=r"lexicon spells words with 1 token\(s\) the model does not have: \['C'\]"):
        CTCPrefixBeamSearch(TOKENS, lexicon=Lexicon.from_words(["ab", "aC"]))
    upper = NgramLM.train([["AB", "A"]], order=1)
    with pytest.raises(VocabError, match="no word of the word LM can be spelled.*check the case"):
        CTCPrefixBeamSearch(TOKENS, lm=upper, lm_unit="word", lm_weight=0.5)
    with pytest.raises(ValueError, match="a word LM needs word boundaries"):
        CTCPrefixBeamSearch(["<blank>", "x", "y"], lm=NgramLM.train([["x"]], 1), lm_unit="word", lm_weight=0.5,
                            word_boundary=None)


def test_bad_log_probs_name_the_utterance() -> None:
    from seqlabel.errors import DataError

    vocab = Vocab(["|", "a", "b"])
    lp = random_log_probs(5, 4, seed=0)
    lp[2, 1] = np.nan
    decoder = build_decoder(DecodeConfig(decoder="beam"), vocab)
    for dec in (GreedyDecoder(), decoder):
        with pytest.raises(DataError, match=r"utterance 'u7': log_probs: frame 2 holds NaN"):
            decode_log_probs(lp, "u7", vocab, dec)
        with pytest.raises(DataError, match=r"utterance 'u8': log_probs are not normalised"):
            decode_log_probs(np.exp(random_log_probs(5, 4, seed=1)), "u8", vocab, dec)


def test_decode_config_is_validated() -> None:
    for override, fragment in (("decode.decoder=beams", "decode.decoder must be one of"),
                               ("decode.nbest=40", "decode.nbest (40) must be <= decode.beam"),
                               ("decode.blank_threshold=1.5", "decode.blank_threshold must be in (0, 1]"),
                               ("decode.token_min_logp=2", "log-probability"),
                               ("decode.lm_unit=phone", "decode.lm_unit must be one of"),
                               ("decode.beem=3", "did you mean 'decode.beam'")):
        with pytest.raises(ConfigError, match=re.escape(fragment)):
            config_from_data({}, [override])


# ----------------------------------------------------------------------------- hypotheses
def test_hypotheses_carry_words_times_and_confidences(char_lm: NgramLM) -> None:
    vocab = Vocab(["|", "a", "b"])
    lp = peaky_log_probs(20, 4, seed=5, peak=0.9)
    decoder = build_decoder(DecodeConfig(decoder="beam", beam=8, nbest=3), vocab, lm=char_lm)
    hyps = decode_log_probs(lp, "u1", vocab, decoder, seconds=0.03)
    assert 1 <= len(hyps) <= 3 and all(h.id == "u1" for h in hyps)
    for h in hyps:
        assert len(h.timesteps) == len(h.tokens) == len(h.durations) == len(h.token_confidences)
        assert list(h.timesteps) == sorted(h.timesteps) and len(set(h.timesteps)) == len(h.timesteps)
        assert all(d >= 1 for d in h.durations) and h.timesteps[-1] + h.durations[-1] <= 20 if h.tokens else True
        assert all(0.0 < c <= 1.0 for c in h.token_confidences) and 0.0 < h.confidence <= 1.0
        assert list(h.words) == to_words(list(h.tokens))
        assert h.lm_score is not None and h.acoustic_score is not None
        assert h.score == pytest.approx(h.acoustic_score + 0.5 * h.lm_score)
        times = h.token_times()
        assert [s for s, _ in times] == pytest.approx([0.03 * t for t in h.timesteps])
    greedy, = decode_log_probs(lp, "u1", vocab, build_decoder(DecodeConfig(), vocab), seconds=0.03)
    (ids, frames), = greedy_search(torch.from_numpy(lp)[None], torch.tensor([20]))
    assert list(greedy.tokens) == vocab.decode(ids) and list(greedy.timesteps) == frames
    assert greedy.score == pytest.approx(lp.max(axis=1).sum()) == pytest.approx(greedy.acoustic_score)
    assert greedy.lm_score is None


def test_every_decoder_is_a_decoder_and_the_registry_builds_each() -> None:
    """Greedy decoding is a decoder object beside the beam search (no None-means-greedy): both
    satisfy the Decoder protocol, and the registry builds each from its name."""
    from seqlabel.decoders import Decoder
    from seqlabel.decoders.factory import DECODERS

    vocab = Vocab(["|", "a", "b"])
    lp = peaky_log_probs(20, 4, seed=5, peak=0.9)
    built = {name: build_decoder(DecodeConfig(decoder=name), vocab) for name in DECODERS}
    assert set(built) == {"greedy", "beam"}
    assert all(isinstance(d, Decoder) and d.name == name for name, d in built.items())
    (best,), = built["greedy"].batch(lp[None], np.array([20]))
    (ids, _), = greedy_search(torch.from_numpy(lp)[None], torch.tensor([20]))
    assert list(best.ids) == ids
    beam_best = built["beam"].batch(lp[None], np.array([20]))[0][0]
    assert beam_best.score >= best.score - 1e-9  # the search finds at least the best path's labelling
