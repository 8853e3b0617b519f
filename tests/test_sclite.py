"""seqlabel.scoring.metrics agrees with NIST sclite (SCTK): the same alignment, hence the same Corr, Sub,
Del, Ins, Err and reference-token counts, per utterance and over the corpus, for words and for
characters. The sclite runs skip when sclite is not installed (Debian/Ubuntu: ``apt-get install
sctk``, which puts it in /usr/lib/sctk/bin); the checks against a plain DP and jiwer always run.

Characters: ``sclite -c`` splits every word into characters and drops the spaces between words, so
its character counts equal seqlabel's on ``to_chars`` (characters without boundary tokens). With the
word-boundary token kept (seqlabel's character vocabularies keep ``|``), sclite without ``-c`` on
space-separated character tokens gives the same counts as seqlabel on the tokens as they are.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import jiwer
import pytest

from seqlabel.scoring.metrics import align_ops, align_stats, edit_cost, score, to_chars
from seqlabel.types import ErrorStats

WORDS = ["a", "b", "c", "ab", "ba", "abc"]  # a small vocabulary, so ties are common
N_PAIRS = 480


def generate_pairs(rng: random.Random, vocab: list[str], count: int = N_PAIRS) -> list[tuple[list[str], list[str]]]:
    """Reference/hypothesis pairs: edited copies, unrelated pairs and the edge cases, in fixed shares."""

    def seq(lo: int, hi: int) -> list[str]:
        return [rng.choice(vocab) for _ in range(rng.randint(lo, hi))]

    def edit(ref: list[str], rate: float) -> list[str]:
        out: list[str] = []
        for tok in ref:
            u = rng.random()
            if u < rate / 3:
                out.append(rng.choice(vocab))  # substitution (or a correct draw)
            elif u < 2 * rate / 3:
                pass  # deletion
            elif u < rate:
                out.extend([tok, rng.choice(vocab)])  # insertion
            else:
                out.append(tok)
        return out

    pairs = []
    for _ in range(count // 2):  # edited copies
        ref = seq(0, 15)
        pairs.append((ref, edit(ref, rng.uniform(0.0, 0.8))))
    for _ in range(count // 6):  # unrelated: many equal-cost alignments
        pairs.append((seq(0, 12), seq(0, 12)))
    for _ in range(count // 12):
        ref = seq(1, 15)
        pairs.append((ref, list(ref)))  # identical
    for _ in range(count // 16):
        pairs.append((seq(1, 15), []))  # empty hypothesis
        pairs.append(([], seq(1, 15)))  # empty reference
    for _ in range(count // 48):
        pairs.append(([], []))
    for _ in range(count // 16):  # long insertions, at the start, the end or inside
        ref = seq(0, 10)
        at = rng.choice([0, len(ref), rng.randint(0, len(ref))])
        pairs.append((ref, ref[:at] + seq(15, 40) + ref[at:]))
    while len(pairs) < count:  # long utterances
        ref = seq(50, 80)
        pairs.append((ref, edit(ref, rng.uniform(0.0, 0.5))))
    rng.shuffle(pairs)
    return pairs


# --- sclite ------------------------------------------------------------------------------------

def find_sclite() -> str | None:
    found = shutil.which("sclite")
    if found:
        return found
    debian = "/usr/lib/sctk/bin/sclite"  # the Debian package puts it here, off PATH
    return debian if os.access(debian, os.X_OK) else None


@pytest.fixture(scope="module")
def sclite() -> str:
    path = find_sclite()
    if path is None:
        pytest.skip("sclite not found on PATH or in /usr/lib/sctk/bin (install the Debian package sctk)")
    return path


def write_trn(path: Path, lines: dict[str, list[str]]) -> None:
    path.write_text("".join(f"{' '.join(toks)} ({uid})\n".lstrip() for uid, toks in lines.items()))


def run_sclite(sclite: str, workdir: Path, refs: dict[str, list[str]], hyps: dict[str, list[str]],
               chars: bool = False) -> tuple[dict[str, int], dict[str, str]]:
    """Corpus totals from the raw summary and per-utterance op strings from the SGML alignments."""
    workdir.mkdir()
    write_trn(workdir / "ref.trn", refs)
    write_trn(workdir / "hyp.trn", hyps)
    cmd = [sclite, "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm", "-s",
           "-o", "rsum", "sgml", "-O", ".", "-n", "out"] + (["-c"] if chars else [])
    done = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"sclite failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"

    raw = (workdir / "out.raw").read_text()
    sums = [line for line in raw.splitlines() if re.match(r"\s*\|\s*Sum\s*\|", line)]
    assert len(sums) == 1, f"no single Sum line in sclite's raw report:\n{raw}"
    numbers = [int(x) for x in re.findall(r"\d+", sums[0])]
    totals = dict(zip(["snt", "wrd", "corr", "sub", "del", "ins", "err", "serr"], numbers))

    sgml = (workdir / "out.sgml").read_text()
    paths = re.findall(r'<PATH id="\(([^)]*)\)"[^>]*>(.*?)</PATH>', sgml, flags=re.S)
    ops = {uid: "".join(re.findall(r'(?:^|:)([CSDI]),', body.strip())) for uid, body in paths}
    return totals, ops


def check_agreement(sclite: str, workdir: Path, pairs: list[tuple[list[str], list[str]]],
                    chars: bool = False) -> int:
    """Run sclite on word lines (``-c``: on their characters) and compare with seqlabel. Returns the pair count."""
    ids = [f"spk{k % 7}-{k:04d}" for k in range(len(pairs))]  # rm ids: speaker before the dash
    refs = {u: r for u, (r, _) in zip(ids, pairs)}
    hyps = {u: h for u, (_, h) in zip(ids, pairs)}
    totals, sc_ops = run_sclite(sclite, workdir, refs, hyps, chars)

    if chars:  # what sclite -c aligns: the characters of the words, spaces dropped
        refs = {u: to_chars(list("|".join(r))) for u, r in refs.items()}
        hyps = {u: to_chars(list("|".join(h))) for u, h in hyps.items()}
    result = score(refs, hyps, unit="char" if chars else "word")

    assert set(sc_ops) == set(ids)
    for u in result.utterances:
        assert u.ops == sc_ops[u.id], (u.id, " ".join(u.ref), " ".join(u.hyp), u.ops, sc_ops[u.id])
        s = u.stats
        counts = tuple(sc_ops[u.id].count(op) for op in "CSDI")
        assert (s.hits, s.substitutions, s.deletions, s.insertions) == counts
        assert s.ref_tokens == counts[0] + counts[1] + counts[2]

    t = result.total
    ours = {"snt": t.utterances, "wrd": t.ref_tokens, "corr": t.hits, "sub": t.substitutions,
            "del": t.deletions, "ins": t.insertions, "err": t.errors,
            "serr": sum(u.stats.errors > 0 for u in result.utterances)}
    assert ours == totals
    return len(pairs)


def test_words_agree_with_sclite(sclite: str, tmp_path: Path) -> None:
    pairs = generate_pairs(random.Random(3), WORDS)
    assert check_agreement(sclite, tmp_path / "words", pairs) == N_PAIRS


def test_characters_agree_with_sclite_c(sclite: str, tmp_path: Path) -> None:
    pairs = generate_pairs(random.Random(4), WORDS)
    assert check_agreement(sclite, tmp_path / "chars", pairs, chars=True) == N_PAIRS


def test_character_tokens_with_boundaries_agree_with_sclite(sclite: str, tmp_path: Path) -> None:
    """seqlabel's character unit keeps the boundary token: score those tokens as sclite 'words'."""
    pairs = [(list("|".join(r)), list("|".join(h))) for r, h in generate_pairs(random.Random(5), WORDS)]
    assert check_agreement(sclite, tmp_path / "tokens", pairs) == N_PAIRS


def test_sclite_c_ignores_spaces(sclite: str, tmp_path: Path) -> None:
    totals, ops = run_sclite(sclite, tmp_path / "c", {"s-1": ["ab", "c"]}, {"s-1": ["abc"]}, chars=True)
    assert ops == {"s-1": "CCC"} and totals["err"] == 0 and totals["wrd"] == 3


# --- without sclite: the vectorised DP against a plain one, and jiwer as a cross-check ----------

def plain_sclite_dp(ref: list[str], hyp: list[str]) -> str:
    """sclite's DP written cell by cell (SCTK net_dp.c): costs C 0, S 4, I 3, D 3; ties: diagonal
    if no worse than both, else deletion if strictly cheaper than insertion, else insertion."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    back = [[""] * (m + 1) for _ in range(n + 1)]
    for b in range(1, m + 1):
        d[0][b], back[0][b] = d[0][b - 1] + 3, "I"
    for a in range(1, n + 1):
        d[a][0], back[a][0] = d[a - 1][0] + 3, "D"
        for b in range(1, m + 1):
            sub = d[a - 1][b - 1] + (0 if ref[a - 1] == hyp[b - 1] else 4)
            dele, ins = d[a - 1][b] + 3, d[a][b - 1] + 3
            if sub <= dele and sub <= ins:
                d[a][b], back[a][b] = sub, "C" if ref[a - 1] == hyp[b - 1] else "S"
            elif dele < ins:
                d[a][b], back[a][b] = dele, "D"
            else:
                d[a][b], back[a][b] = ins, "I"
    ops, a, b = [], n, m
    while a or b:
        op = back[a][b]
        ops.append(op)
        a, b = a - (op != "I"), b - (op != "D")
    return "".join(reversed(ops))


def test_vectorised_alignment_equals_plain_dp() -> None:
    pairs = generate_pairs(random.Random(6), ["a", "b", "c"], 600)
    refs, hyps = [r for r, _ in pairs], [h for _, h in pairs]
    assert align_ops(refs, hyps) == [plain_sclite_dp(r, h) for r, h in pairs]


def test_cross_check_with_jiwer() -> None:
    """jiwer minimises S + D + I; sclite minimises 4 S + 3 (D + I). So sclite's alignment never costs
    more under sclite's weights, never has fewer errors, and sometimes splits them differently."""
    rng = random.Random(7)
    pairs = [([rng.choice("ab") for _ in range(rng.randint(1, 8))],
              [rng.choice("abc") for _ in range(rng.randint(1, 8))]) for _ in range(2000)]
    split_differs = 0
    for (ref, hyp), ops, ours in zip(pairs, align_ops([r for r, _ in pairs], [h for _, h in pairs]),
                                     align_stats([r for r, _ in pairs], [h for _, h in pairs])):
        lev = jiwer.process_words(" ".join(ref), " ".join(hyp))
        lev_cost = 4 * lev.substitutions + 3 * (lev.deletions + lev.insertions)
        assert edit_cost(ops) <= lev_cost
        assert ours.errors >= lev.substitutions + lev.deletions + lev.insertions
        assert ours.hits + ours.substitutions + ours.deletions == len(ref)
        split_differs += (ours.substitutions, ours.deletions, ours.insertions) != \
            (lev.substitutions, lev.deletions, lev.insertions)
    assert split_differs > 0  # about 5% of these pairs; test_where_sclite_and_levenshtein_differ has more errors


def test_where_sclite_and_levenshtein_differ() -> None:
    # two substitutions (cost 8) or a deletion and an insertion (cost 6): sclite takes the latter
    (s,) = align_stats([["a", "b"]], [["b", "c"]])
    assert (s.hits, s.substitutions, s.deletions, s.insertions) == (1, 0, 1, 1)
    # five substitutions (Levenshtein 5, cost 20) against 3 D + 3 I (6 errors, cost 18)
    (s,) = align_stats([list("bbbaaa")], [list("bcccbb")])
    assert (s.substitutions, s.deletions, s.insertions, s.errors) == (0, 3, 3, 6)


def test_batches_of_mixed_lengths_equal_one_by_one() -> None:
    pairs = generate_pairs(random.Random(8), WORDS, 200) + [(["a"] * 300, ["b"] * 290)]
    refs, hyps = [r for r, _ in pairs], [h for _, h in pairs]
    assert align_stats(refs, hyps) == [align_stats([r], [h])[0] for r, h in pairs]
    assert sum(align_stats(refs, hyps), ErrorStats()).utterances == len(pairs)
