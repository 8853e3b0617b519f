"""seqlabel.scoring.significance: the bootstrap interval, MAPSSWE (against hand-cut segments and against sclite's
sc_stats when installed), the paired bootstrap, and ``seqlabel compare`` end to end."""
from __future__ import annotations

import math
import random
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from test_sclite import WORDS, find_sclite, generate_pairs, write_trn

from seqlabel.cli import main
from seqlabel.errors import DataError
from seqlabel.scoring import significance
from seqlabel.scoring.metrics import score
from seqlabel.scoring.significance import (
    bootstrap_interval,
    bootstrap_sums,
    mapsswe,
    paired_bootstrap,
    segment_errors,
    z_statistic,
)

PHONES = ["aa", "b", "d", "iy", "s", "sh", "t", "uw"]


def corpus(seed: int, n: int = 200) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {f"spk{i % 5}_u{i:03d}": [rng.choice(PHONES) for _ in range(rng.randint(5, 25))] for i in range(n)}


def degrade(refs: dict[str, list[str]], rate: float, seed: int) -> dict[str, list[str]]:
    """Each token substituted, deleted or followed by an insertion with probability ``rate`` (a third each)."""
    rng = random.Random(seed)
    out = {}
    for u, ref in refs.items():
        hyp: list[str] = []
        for tok in ref:
            x = rng.random()
            if x < rate / 3:
                hyp.append(rng.choice([p for p in PHONES if p != tok]))
            elif x < 2 * rate / 3:
                continue
            elif x < rate:
                hyp += [tok, rng.choice(PHONES)]
            else:
                hyp.append(tok)
        out[u] = hyp
    return out


@pytest.fixture(scope="module")
def systems() -> dict:
    refs = corpus(0)
    good, bad = degrade(refs, 0.10, 1), degrade(refs, 0.25, 2)
    return {"refs": refs, "good": score(refs, good, "phone"), "bad": score(refs, bad, "phone"),
            "good_hyps": good, "bad_hyps": bad}


# ----------------------------------------------------------------------------- bootstrap interval
def test_interval_brackets_the_rate_and_is_reproducible(systems: dict) -> None:
    result = systems["good"]
    ci = bootstrap_interval(result, seed=5)
    assert ci is not None and ci.low < result.total.rate < ci.high
    assert ci == bootstrap_interval(result, seed=5)
    assert ci != bootstrap_interval(result, seed=6)
    assert 0.005 < ci.high - ci.low < 0.1  # a few thousand tokens: about +-1 point
    assert str(ci).startswith("95% CI ") and re.fullmatch(r"95% CI \d+\.\d\d-\d+\.\d\d", str(ci))
    narrow = bootstrap_interval(result, level=0.5, seed=5)
    assert ci.low <= narrow.low <= narrow.high <= ci.high


def test_interval_of_equal_utterances_has_no_width() -> None:
    refs = {f"u{i}": ["a", "b", "c", "d"] for i in range(30)}
    ci = bootstrap_interval(score(refs, {u: ["a", "x", "c", "d"] for u in refs}))
    assert ci is not None and ci.low == ci.high == pytest.approx(0.25)


def test_interval_without_reference_tokens_is_none() -> None:
    assert bootstrap_interval(score({"u": []}, {"u": ["a"]})) is None
    assert bootstrap_interval(score({}, {})) is None


def test_bootstrap_sums_equal_a_loop_and_do_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.array([[3, 0, 1, 4, 2], [10, 5, 7, 9, 8]])  # (K=2, N=5)
    sums = bootstrap_sums(values, resamples=7, seed=1)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 5, size=(7, 5))
    assert sums.tolist() == [[values[0, i].sum(), values[1, i].sum()] for i in idx]
    monkeypatch.setattr(significance, "_MAX_DRAWS", 10)  # 2 resamples per chunk
    assert bootstrap_sums(values, resamples=7, seed=1).tolist() == sums.tolist()


# ----------------------------------------------------------------------------- MAPSSWE
@pytest.mark.parametrize("ops_a, ops_b, segments", [
    ("CCCCC", "CCCCC", []),
    ("CCSCC", "CCCCC", [(1, 0)]),
    ("CSCSC", "CCCCC", [(2, 0)]),  # one good token between errors: one segment
    ("SCCSC", "CCCCC", [(1, 0), (1, 0)]),  # two good tokens close a segment
    ("SCCCCD", "CCSCCC", [(1, 1), (1, 0)]),  # the errors of both systems count
    ("SCCCCC", "CCCCCD", [(1, 0), (0, 1)]),
    ("SCICCC", "CCCCD", [(2, 0), (0, 1)]),  # an insertion breaks the run of good tokens
    ("CCCI", "CCC", [(1, 0)]),  # trailing insertion
    ("II", "", [(2, 0)]),  # empty reference
    ("", "I", [(0, 1)]),
    ("", "", []),
    ("DDD", "SCC", [(3, 1)]),
])
def test_segments_by_hand(ops_a: str, ops_b: str, segments: list[tuple[int, int]]) -> None:
    assert segment_errors(ops_a, ops_b) == segments
    assert segment_errors(ops_b, ops_a) == [(b, a) for a, b in segments]


def test_segments_with_one_boundary_token() -> None:
    assert segment_errors("SCSCC", "CCCCC", min_good=1) == [(1, 0), (1, 0)]


def test_segments_hold_every_error() -> None:
    pairs = generate_pairs(random.Random(8), WORDS, 200)
    refs = {f"u{k}": r for k, (r, _) in enumerate(pairs)}
    a = score(refs, {f"u{k}": h for k, (_, h) in enumerate(pairs)}, "word")
    b = score(refs, {u: r[1:] for u, r in refs.items()}, "word")
    for ua, ub in zip(a.utterances, b.utterances):
        segs = segment_errors(ua.ops, ub.ops)
        assert sum(x for x, _ in segs) == ua.stats.errors and sum(y for _, y in segs) == ub.stats.errors
        assert all(x + y > 0 for x, y in segs)


def test_a_file_against_itself_is_not_significant(systems: dict) -> None:
    c = mapsswe(systems["good"], systems["good"])
    assert c.statistic == 0.0 and c.p_value == 1.0 and not c.significant()
    assert c.difference == 0.0 and c.samples > 50


def test_a_degraded_file_is_significantly_worse(systems: dict) -> None:
    c = mapsswe(systems["good"], systems["bad"])
    assert c.rate_b > c.rate_a and c.difference > 0.05
    assert c.statistic < 0  # Z = mean(errors A - errors B): A makes fewer errors
    assert c.p_value < 1e-6 and c.significant()
    swapped = mapsswe(systems["bad"], systems["good"])
    assert swapped.statistic == pytest.approx(-c.statistic) and swapped.p_value == pytest.approx(c.p_value)


def test_z_statistic_edge_cases() -> None:
    assert z_statistic(np.array([])) == 0.0 and z_statistic(np.array([3.0])) == 0.0
    assert z_statistic(np.zeros(5)) == 0.0
    assert z_statistic(-np.ones(5)) == -math.inf  # sclite says 0 here; every segment agrees, so B is worse
    d = np.array([1.0, -1.0, -1.0, 0.0, 0.0])  # sc_stats: mean -0.200, std dev 0.837, Z -0.535
    assert z_statistic(d) == pytest.approx(-0.5345, abs=1e-4)


def test_mapsswe_agrees_with_sclite_sc_stats(tmp_path: Path) -> None:
    sclite = find_sclite()
    if sclite is None:
        pytest.skip("sclite not found on PATH or in /usr/lib/sctk/bin (install the Debian package sctk)")
    sc_stats = str(Path(sclite).with_name("sc_stats"))
    rng = random.Random(11)
    pairs = generate_pairs(rng, WORDS, 300)  # with empty references, empty hypotheses, long insertions
    ids = [f"spk{k % 7}-{k:04d}" for k in range(len(pairs))]
    refs = {u: r for u, (r, _) in zip(ids, pairs)}
    hyps_a = {u: h for u, (_, h) in zip(ids, pairs)}
    hyps_b = {u: ([rng.choice(WORDS)] if rng.random() < 0.2 else []) + [w for w in r if rng.random() > 0.15]
              for u, r in refs.items()}
    write_trn(tmp_path / "ref.trn", refs)
    for name, hyps in (("A", hyps_a), ("B", hyps_b)):
        write_trn(tmp_path / f"{name}.trn", hyps)
        subprocess.run([sclite, "-r", "ref.trn", "trn", "-h", f"{name}.trn", "trn", "-i", "rm", "-s",
                        "-o", "sgml", "-O", ".", "-n", name], cwd=tmp_path, check=True, capture_output=True)
    sgml = (tmp_path / "A.sgml").read_text() + (tmp_path / "B.sgml").read_text()
    done = subprocess.run([sc_stats, "-p", "-t", "mapsswe", "-v", "-n", "-"], input=sgml, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    found = re.search(r"\(# segs: (\d+)\).*\(mean: (\S+)\).*\(Z Stat: (\S+)\)", done.stdout)
    assert found, done.stdout + done.stderr
    ours = mapsswe(score(refs, hyps_a, "word"), score(refs, hyps_b, "word"))
    assert ours.samples == int(found[1]) > 100
    assert ours.statistic == pytest.approx(float(found[3]), abs=1e-3)


# ----------------------------------------------------------------------------- paired bootstrap
def test_paired_bootstrap(systems: dict) -> None:
    same = paired_bootstrap(systems["good"], systems["good"])
    assert same.p_value == 1.0 and same.statistic == 1.0 and not same.significant()
    worse = paired_bootstrap(systems["good"], systems["bad"], resamples=500, seed=2)
    assert worse.statistic == 0.0 and worse.p_value == 0.0 and worse.significant() and worse.samples == 500
    assert "p < 0.002" in worse.summary()
    assert worse == paired_bootstrap(systems["good"], systems["bad"], resamples=500, seed=2)
    better = paired_bootstrap(systems["bad"], systems["good"], resamples=500, seed=2)
    assert better.statistic == 1.0 and better.p_value == 0.0


def test_close_systems_are_not_significant(systems: dict) -> None:
    refs = systems["refs"]
    a = score(refs, degrade(refs, 0.10, 1), "phone")
    b = score(refs, {**systems["good_hyps"], "spk0_u000": refs["spk0_u000"]}, "phone")  # one utterance fixed
    assert b.total.errors < a.total.errors
    for c in (mapsswe(a, b), paired_bootstrap(a, b)):
        assert 0.05 < c.p_value < 1.0, c


def test_systems_on_different_references_are_refused(systems: dict) -> None:
    refs = systems["refs"]
    fewer = {u: h for u, h in list(systems["good_hyps"].items())[:-1]}
    other = score({u: refs[u] for u in fewer}, fewer, "phone")
    with pytest.raises(DataError, match="only in A: \\['spk4_u199'\\]"):
        mapsswe(systems["good"], other)
    changed = score({**refs, "spk0_u000": ["aa"]}, systems["good_hyps"], "phone")
    with pytest.raises(DataError, match="spk0_u000.*different references"):
        paired_bootstrap(systems["good"], changed)


# ----------------------------------------------------------------------------- seqlabel compare
def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def write_text(path: Path, seqs: dict[str, list[str]]) -> Path:
    path.write_text("".join(" ".join([u, *t]) + "\n" for u, t in seqs.items()), encoding="utf-8")
    return path


@pytest.fixture()
def files(systems: dict, tmp_path: Path) -> dict[str, Path]:
    return {"ref": write_text(tmp_path / "ref.txt", systems["refs"]),
            "good": write_text(tmp_path / "good.txt", systems["good_hyps"]),
            "bad": write_text(tmp_path / "bad.txt", systems["bad_hyps"])}


@pytest.mark.parametrize("method", ["mapsswe", "bootstrap"])
def test_compare_cli(files: dict[str, Path], method: str) -> None:
    result = invoke("compare", files["ref"], files["good"], files["bad"], "--unit", "phone", "--method", method)
    assert result.exit_code == 0, result.output
    assert re.search(r"PER: A \d+\.\d\d% \(.*good.txt\), B \d+\.\d\d% \(.*bad.txt\), B - A \+\d+\.\d\d points",
                     result.output)
    assert ": significant at p < 0.05" in result.output
    same = invoke("compare", files["ref"], files["good"], files["good"], "--unit", "phone", "--method", method)
    assert same.exit_code == 0, same.output
    assert "B - A +0.00 points" in same.output and "p = 1.0000: not significant at p < 0.05" in same.output


def test_compare_cli_characters_also_compares_words(tmp_path: Path) -> None:
    ref = write_text(tmp_path / "ref", {"u1": list("ab|cd"), "u2": list("ef|g")})
    result = invoke("compare", ref, ref, ref)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("CER: A 0.00%") and "\nWER: A 0.00%" in result.output


def test_compare_cli_names_missing_utterances(files: dict[str, Path], tmp_path: Path) -> None:
    lines = files["bad"].read_text().splitlines()
    short = tmp_path / "short.txt"
    short.write_text("\n".join(lines[2:]) + "\n")
    result = invoke("compare", files["ref"], files["good"], short, "--unit", "phone")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "2 reference id(s) have no hypothesis" in result.output and lines[0].split()[0] in result.output
