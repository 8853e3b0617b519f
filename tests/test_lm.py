"""n-gram LMs: hand-computed Kneser-Ney / Witten-Bell, normalisation, ARPA I/O, scoring API."""
from __future__ import annotations

import json
import math
import pickle
import random
import warnings
from collections import Counter

import pytest

from seqlabel.errors import ConfigError, DataError
from seqlabel.lm import NgramLM, modified_kn_discounts, tokenize, train_lm
from seqlabel.lm.ngram import FALLBACK_DISCOUNTS

LN10 = math.log(10)
WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "to", "big"]


def markov_text(n: int, seed: int) -> list[str]:
    """Sentences from one small word-bigram source (``seed`` picks the sample): text for char LMs."""
    source = random.Random(0)
    follow = {w: source.sample(WORDS, 3) for w in WORDS}
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        w = rng.choice(WORDS)
        words = [w]
        for _ in range(rng.randint(1, 5)):
            w = rng.choice(follow[w])
            words.append(w)
        out.append(" ".join(words))
    return out


def char_sentences(texts: list[str]) -> list[list[str]]:
    return [tokenize(t, "char") for t in texts]


def contexts_of(lm: NgramLM) -> list[tuple[str, ...]]:
    """Every context the model knows, the states reached from <s>, and an unseen context."""
    ctx = {g for n in range(1, lm.order) for g in lm.ngrams(n)} | {(), lm.begin(), ("zz", "qq")[: lm.order - 1]}
    return sorted(ctx)


def total_prob(lm: NgramLM, state: tuple) -> float:
    return math.fsum(math.exp(lm.score(state, w)[0]) for w in lm.vocab if w != "<s>")


# ---------------------------------------------------------------------- hand-computed estimates
def test_kneser_ney_bigram_by_hand():
    # Corpus "a b", "b" with one discount D = 0.5, padded: <s> a b </s> / <s> b </s>.
    # Bigram (highest order) counts are raw: <s> a = 1, <s> b = 1, a b = 1, b </s> = 2.
    # Unigram counts are continuation counts N1+(. w): a <- {<s>} = 1, b <- {<s>, a} = 2, </s> <- {b} = 1.
    # Vocabulary for the uniform distribution: a, b, </s>, <unk> -> 4.
    # Unigrams: total 4, gamma = 0.5 * 3 / 4 = 0.375, uniform share 0.375 / 4 = 0.09375:
    #   p(a) = 0.5/4 + 0.09375 = 0.21875, p(b) = 1.5/4 + 0.09375 = 0.46875, p(</s>) = 0.21875, p(<unk>) = 0.09375.
    # Context <s>: total 2, gamma = 0.5 * 2 / 2 = 0.5: p(a|<s>) = 0.25 + 0.5 * 0.21875 = 0.359375,
    #   p(b|<s>) = 0.25 + 0.5 * 0.46875 = 0.484375, p(</s>|<s>) = 0.5 * 0.21875 (backed off).
    # Context a: total 1, gamma 0.5: p(b|a) = 0.5 + 0.5 * 0.46875 = 0.734375.
    # Context b: total 2, gamma = 0.5 * 1 / 2 = 0.25: p(</s>|b) = 0.75 + 0.25 * 0.21875 = 0.8046875.
    lm = NgramLM.train([["a", "b"], ["b"]], order=2, discount=0.5)
    p = lambda ctx, w: math.exp(lm.logprob(ctx, w))  # noqa: E731
    assert p((), "a") == pytest.approx(0.21875)
    assert p((), "b") == pytest.approx(0.46875)
    assert p((), "</s>") == pytest.approx(0.21875)
    assert p((), "<unk>") == pytest.approx(0.09375)
    assert p(("<s>",), "a") == pytest.approx(0.359375)
    assert p(("<s>",), "b") == pytest.approx(0.484375)
    assert p(("<s>",), "</s>") == pytest.approx(0.5 * 0.21875)
    assert p(("a",), "b") == pytest.approx(0.734375)
    assert p(("b",), "</s>") == pytest.approx(0.8046875)
    assert p(("b",), "a") == pytest.approx(0.25 * 0.21875)
    # back-off weights are the interpolation weights
    assert math.exp(lm.backoff(("<s>",))) == pytest.approx(0.5)
    assert math.exp(lm.backoff(("b",))) == pytest.approx(0.25)
    assert lm.ngrams(2) == [("<s>", "a"), ("<s>", "b"), ("a", "b"), ("b", "</s>")]
    assert math.exp(lm.sentence_logprob(["a", "b"])) == pytest.approx(0.359375 * 0.734375 * 0.8046875)


def test_modified_kneser_ney_discounts_by_count():
    # Order 1 (so raw counts) on "x y y z z z": x = 1, y = 2, z = 3, </s> = 1; total 7.
    # D1 = 0.5, D2 = 1.0, D3+ = 1.5: gamma = (0.5 * 2 + 1.0 + 1.5) / 7 = 0.5; |V| = 5 (with <unk>).
    lm = NgramLM.train([list("xyyzzz")], order=1, discount=(0.5, 1.0, 1.5))
    p = lambda w: math.exp(lm.logprob((), w))  # noqa: E731
    assert p("x") == pytest.approx(0.5 / 7 + 0.1)
    assert p("y") == pytest.approx(1.0 / 7 + 0.1)
    assert p("z") == pytest.approx(1.5 / 7 + 0.1)
    assert p("</s>") == pytest.approx(0.5 / 7 + 0.1)
    assert p("<unk>") == pytest.approx(0.1)


def test_discounts_estimated_from_count_of_counts():
    # n1=4, n2=2, n3=1, n4=1: Y = 4/(4+4) = 0.5, D1 = 1 - 2*0.5*2/4 = 0.5,
    # D2 = 2 - 3*0.5*1/2 = 1.25, D3+ = 3 - 4*0.5*1/1 = 1.0.
    assert modified_kn_discounts(4, 2, 1, 1) == pytest.approx((0.5, 1.25, 1.0))
    assert modified_kn_discounts(0, 2, 1, 1) is None
    # The same count-of-counts from text (order 1 uses raw counts): a b c </s> once, d e twice,
    # f three times, g four times.
    lm = NgramLM.train([list("abcddeefffgggg")], order=1)
    assert lm.discounts[1] == pytest.approx((0.5, 1.25, 1.0))


def test_witten_bell_bigram_by_hand():
    # Same corpus as the KN test; raw counts at every order.
    # Unigrams: a = 1, b = 2, </s> = 2 -> N = 5, T = 3 types, |V| = 4:
    #   p(w) = (c(w) + T/|V|) / (N + T): p(a) = 1.75/8, p(b) = 2.75/8, p(<unk>) = 0.75/8.
    # Context <s>: c = 2, T = 2: p(a|<s>) = (1 + 2 * 1.75/8) / 4 = 0.359375.
    # Context b: c = 2, T = 1: p(</s>|b) = (2 + 1 * 2.75/8) / 3; back-off 1/3.
    lm = NgramLM.train([["a", "b"], ["b"]], order=2, smoothing="witten_bell")
    p = lambda ctx, w: math.exp(lm.logprob(ctx, w))  # noqa: E731
    assert p((), "a") == pytest.approx(1.75 / 8)
    assert p((), "b") == pytest.approx(2.75 / 8)
    assert p((), "<unk>") == pytest.approx(0.75 / 8)
    assert p(("<s>",), "a") == pytest.approx(0.359375)
    assert p(("b",), "</s>") == pytest.approx((2 + 2.75 / 8) / 3)
    assert p(("b",), "a") == pytest.approx(1.75 / 8 / 3)
    assert lm.discounts == {}


def _reference_kn(sentences, order, d):
    """Interpolated KN straight from the definitions, recursively (no back-off tables)."""
    raw = Counter()
    for s in sentences:
        toks = ["<s>", *s, "</s>"]
        for j in range(1, len(toks)):
            for n in range(1, min(order, j + 1) + 1):
                raw[tuple(toks[j - n + 1:j + 1])] += 1
    vocab = {g[0] for g in raw if len(g) == 1} | {"</s>", "<unk>"}

    def count(g):  # adjusted count
        if len(g) == order or g[0] == "<s>":
            return raw[g]
        return len({x[0] for x in raw if len(x) == len(g) + 1 and x[1:] == g})

    def p(h, w):
        if len(h) >= order:
            h = h[len(h) - order + 1:]
        lower = 1 / len(vocab) if h == () else p(h[1:], w)
        cs = {g[-1]: count(g) for g in raw if len(g) == len(h) + 1 and g[:-1] == h}
        cs = {w2: c for w2, c in cs.items() if c > 0}
        total = sum(cs.values())
        if total == 0:
            return lower
        disc = lambda c: d[min(c, 3) - 1]  # noqa: E731
        gamma = sum(disc(c) for c in cs.values()) / total
        c = cs.get(w, 0)
        return (max(c - disc(c), 0) if c else 0) / total + gamma * lower

    return p


def test_kneser_ney_backoff_form_equals_interpolated_definition():
    sentences = char_sentences(markov_text(12, seed=5))
    d = (0.6, 1.1, 1.4)
    lm = NgramLM.train(sentences, order=3, discount=d)
    ref = _reference_kn(sentences, 3, d)
    rng = random.Random(0)
    vocab = sorted(lm.vocab - {"<s>"})
    histories = [("<s>",), ("<s>", "t"), ("t", "h"), ("h", "e"), ("q", "q"), ("|", "c"), ("x",)]
    histories += [tuple(rng.choice(vocab[:-1]) for _ in range(2)) for _ in range(20)]
    for h in histories:
        for w in vocab:
            assert math.exp(lm.logprob(h, w)) == pytest.approx(ref(h, w), rel=1e-9), (h, w)


# ---------------------------------------------------------------------- properties
@pytest.mark.parametrize("smoothing", ["kneser_ney", "witten_bell"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_probabilities_sum_to_one(smoothing, order, tmp_path):
    sentences = char_sentences(markov_text(40, seed=order))
    lm = NgramLM.train(sentences, order, smoothing)
    for ctx in contexts_of(lm):
        assert total_prob(lm, ctx) == pytest.approx(1.0, abs=1e-9), ctx
    # ... and still after an ARPA round trip (7 decimals of log10)
    back = NgramLM.read_arpa(lm.write_arpa(tmp_path / "lm.arpa"))
    for ctx in contexts_of(back):
        assert total_prob(back, ctx) == pytest.approx(1.0, abs=1e-5), ctx


@pytest.mark.parametrize("smoothing", ["kneser_ney", "witten_bell"])
def test_higher_order_has_lower_held_out_perplexity(smoothing):
    train = char_sentences(markov_text(300, seed=1))
    held_out = char_sentences(markov_text(60, seed=2))
    ppl = {n: NgramLM.train(train, n, smoothing).perplexity(held_out) for n in (1, 2, 4)}
    assert ppl[4] < ppl[2] < ppl[1]
    assert ppl[4] < 0.5 * ppl[1]


def test_perplexity_definition():
    lm = NgramLM.train([["a", "b"], ["b"]], order=2, discount=0.5)
    sents = [["a", "b"], ["b", "b", "a"]]
    total = sum(lm.sentence_logprob(s) for s in sents)
    assert lm.perplexity(sents) == pytest.approx(math.exp(-total / (3 + 4)))
    with pytest.raises(DataError):
        lm.perplexity([])


# ---------------------------------------------------------------------- scoring API
def test_states_scores_and_cache():
    lm = NgramLM.train(char_sentences(markov_text(100, seed=3)), order=4, discount=0.7)
    state = lm.begin()
    assert state == ("<s>",)
    hash(state)
    total = 0.0
    history = ["<s>"]
    for tok in "the|cat":
        lp, nxt = lm.score(state, tok)
        assert lm.score(state, tok) == (lp, nxt)  # cached
        assert lp == pytest.approx(lm.logprob(history, tok))
        assert len(nxt) <= 3 and tuple(history + [tok])[len(history) + 1 - len(nxt):] == nxt
        history.append(tok)
        total += lp
        state = nxt
    assert lm.end_score(state) == pytest.approx(lm.logprob(history, "</s>"))
    assert lm.sentence_logprob(list("the|cat")) == pytest.approx(total + lm.end_score(state))
    # a state is reduced to the longest context that matters: any history ending the same way
    # scores the same; an unseen history falls back to a shorter state
    _, s1 = lm.score(("x", "x", "t"), "h")
    _, s2 = lm.score(("q", "x", "t"), "h")
    assert s1 == s2 == ("t", "h")
    assert lm.score(("a", "|", "t"), "h")[1] == ("|", "t", "h")  # seen: kept
    assert lm.score(("q", "q", "q"), "a")[1] == lm.score((), "a")[1]
    # order 1: the state is always empty
    uni = NgramLM.train([["a"]], order=1, discount=0.5)
    assert uni.begin() == () and uni.score((), "a")[1] == ()
    # successors() is the whole row of the cache
    row = lm.successors(lm.begin())
    assert set(row) == lm.vocab - {"<s>"}
    assert row["t"] == lm.score(lm.begin(), "t")
    # pickling drops the cache but keeps the scores
    back = pickle.loads(pickle.dumps(lm))
    assert back._cache == {} and back.score(lm.begin(), "t") == lm.score(lm.begin(), "t")


def test_unknown_tokens(tmp_path):
    lm = NgramLM.train([["a", "b"], ["b"]], order=2, discount=0.5)
    unk = lm.score(lm.begin(), "<unk>")
    assert lm.score(lm.begin(), "zebra") == unk  # scored as <unk>, state after <unk>
    # an ARPA model without <unk>: the documented floor, and the context is forgotten
    path = tmp_path / "no_unk.arpa"
    path.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-0.30103 a\n-99 <s>\n-0.30103 </s>\n\n\\end\\\n")
    lm2 = NgramLM.read_arpa(path)
    assert lm2.unk is None
    assert lm2.score(lm2.begin(), "zebra") == (pytest.approx(-100 * LN10), ())
    assert NgramLM.read_arpa(path, oov_log10=-7).score((), "zebra")[0] == pytest.approx(-7 * LN10)


def test_bad_training_input():
    with pytest.raises(ConfigError, match="order"):
        NgramLM.train([["a"]], order=0)
    with pytest.raises(ConfigError, match="smoothing"):
        NgramLM.train([["a"]], order=2, smoothing="good_turing")
    with pytest.raises(ConfigError, match="kneser_ney only"):
        NgramLM.train([["a"]], order=2, smoothing="witten_bell", discount=0.5)
    with pytest.raises(ConfigError, match="D1"):
        NgramLM.train([["a"]], order=2, discount=1.5)
    with pytest.raises(ConfigError, match="token sequences"):
        NgramLM.train(["a b"], order=2)
    with pytest.raises(DataError, match="'</s>'"):
        NgramLM.train([["a", "</s>"]], order=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback is recorded, not warned about
        tiny = NgramLM.train([["a", "b"]], order=2)  # too little text to estimate discounts
    assert tiny.training.fallbacks[2] == (3, 0, 0, 0) and tiny.discounts[2] == FALLBACK_DISCOUNTS


# ---------------------------------------------------------------------- ARPA files
def test_arpa_round_trip(tmp_path):
    lm = NgramLM.train(char_sentences(markov_text(80, seed=4)), order=3)
    for name in ("lm.arpa", "lm.arpa.gz"):
        back = NgramLM.read_arpa(lm.write_arpa(tmp_path / name))
        assert back.order == 3 and back.counts == lm.counts and back.vocab == lm.vocab
        for n in (1, 2, 3):
            for g in lm.ngrams(n):
                assert back.logprob(g[:-1], g[-1]) == pytest.approx(lm.logprob(g[:-1], g[-1]), abs=1e-6)
                assert back.backoff(g) == pytest.approx(lm.backoff(g), abs=1e-6)
        for text in markov_text(20, seed=9) + ["zzz qq"]:
            toks = tokenize(text, "char")
            assert back.sentence_logprob(toks) == pytest.approx(lm.sentence_logprob(toks), abs=1e-5)
    first = (tmp_path / "lm.arpa").read_text()
    NgramLM.read_arpa(tmp_path / "lm.arpa").write_arpa(tmp_path / "again.arpa")
    assert (tmp_path / "again.arpa").read_text() == first


def test_read_an4_unigram_lm(shared_data):
    path = shared_data / "an4" / "etc" / "an4.ug.lm"
    if not path.is_file():
        pytest.skip(f"AN4 is not in {shared_data} (see shared/data/README.md)")
    lm = NgramLM.read_arpa(path)
    # the comment block before \data\ mentions \data\, \1-grams: and \end\ and must be skipped
    assert lm.order == 2 and lm.counts == {1: 107, 2: 1}
    assert lm.unk == "<UNK>" and {"YES", "ZERO", "</s>", "<s>"} <= lm.vocab
    state = lm.begin()
    assert state == ("<s>",)
    lp, nxt = lm.score(state, "YES")
    assert lp == pytest.approx(-2.0253 * LN10)  # back-off of <s> is 0.0
    assert lm.score(nxt, "ZERO")[0] == pytest.approx(-2.0253 * LN10)
    assert lm.end_score(state) == pytest.approx(0.0)  # the bigram "<s> </s>" has log10 p = 0
    assert lm.score(state, "AARDVARK") == lm.score(state, "<UNK>")
    # the unigrams are normalised (106 tokens at 10^-2.0253)
    assert total_prob(lm, ()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("body, message", [
    ("ngram 1=2\n\n\\1-grams:\n-1 a\n-1 </s>\n", r":6: missing \\end\\"),
    ("ngram 1=2\n\n\\1-grams:\n-1 a\nx </s>\n\\end\\\n", r":6: bad log10 probability 'x'"),
    ("ngram 1=2\n\n\\1-grams:\n-1 a\n0.5 </s>\n\\end\\\n", r":6: bad log10 probability"),
    ("ngram 1=2\n\n\\1-grams:\n-1 a b\n-1 </s>\n\\end\\\n", r":5: bad log10 back-off weight 'b'"),
    ("ngram 1=2\n\n\\1-grams:\n-1\n-1 </s>\n\\end\\\n", r":5: a 1-gram line needs"),
    ("ngram 1=3\n\n\\1-grams:\n-1 a\n-1 </s>\n\\end\\\n", r":4: \\data\\ declares 3 1-grams .* holds 2"),
    ("ngram 1=2\n\n\\2-grams:\n-1 a\n", r":4: section '\\\\2-grams:' was not declared"),
    ("ngram one=2\n", r":2: expected 'ngram N=COUNT'"),
    ("ngram 1=2\n\n\\1-grams:\n-1 a\n-1 a\n\\end\\\n", r":6: duplicate 1-gram 'a'"),
    ("ngram 1=1\n\n\\1-grams:\n-1 a\n\\end\\\nmore\n", r":7: text after"),
])
def test_bad_arpa_names_file_and_line(tmp_path, body, message):
    path = tmp_path / "bad.arpa"
    path.write_text("\\data\\\n" + body)
    with pytest.raises(DataError, match="bad.arpa" + message):
        NgramLM.read_arpa(path)


def test_not_an_arpa_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        NgramLM.read_arpa(tmp_path / "missing.arpa")
    (tmp_path / "plain.txt").write_text("hello\nworld\n")
    with pytest.raises(DataError, match=r"plain.txt: no \\data\\ line"):
        NgramLM.read_arpa(tmp_path / "plain.txt")
    (tmp_path / "bin.arpa").write_bytes(b"\\data\\\n\xff\xfe\n")
    with pytest.raises(DataError, match="not UTF-8"):
        NgramLM.read_arpa(tmp_path / "bin.arpa")


# ---------------------------------------------------------------------- train_lm
def test_train_lm_units_and_sources(tmp_path):
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps({"id": f"u{i}", "source": "x.wav", "text": t}) + "\n"
                                for i, t in enumerate(["GO LEFT", "GO  RIGHT", ""])))
    text_file = tmp_path / "extra.txt"
    text_file.write_text("STOP\n\nGO\n")
    out = tmp_path / "lm" / "char.arpa"
    lm = train_lm([manifest], "char", 3, "kneser_ney", out, texts=["LEFT"], discount=0.5)
    assert out.is_file() and NgramLM.read_arpa(out).counts == lm.counts
    assert "|" in lm.vocab and " " not in lm.vocab
    assert ("O", "|", "L") in lm.ngrams(3) and ("<s>", "G") in lm.ngrams(2)
    assert ("|", "</s>") not in lm.ngrams(2)  # no boundary token at the ends of a sentence
    words = train_lm([manifest, text_file], unit="word", order=2, smoothing="witten_bell")
    assert {"GO", "LEFT", "RIGHT", "STOP"} <= words.vocab
    assert ("<s>", "GO") in words.ngrams(2) and ("<s>", "STOP") in words.ngrams(2)
    phones = train_lm(texts=["sil aa b sil", "aa  b"], unit="phone", order=2, discount=0.5)
    assert ("aa", "b") in phones.ngrams(2)
    with pytest.raises(ConfigError, match="unit"):
        train_lm(texts=["a"], unit="letter")
    with pytest.raises(DataError, match="no text"):
        train_lm(texts=["", "  "], unit="word")
    with pytest.raises(DataError, match="not found"):
        train_lm([tmp_path / "missing.txt"], unit="word")
