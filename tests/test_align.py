"""seqlabel.decoders.align (forced alignment, path spans) and seqlabel.decoders.ctm, against brute
force on small inputs; ``seqlabel align`` through click's CliRunner on the tiny phone model."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import collapse, random_log_probs

from seqlabel.cli import main
from seqlabel.data.manifest import read_manifest
from seqlabel.decoders import align_batch, ctm_entries, forced_align, greedy_search, path_alignment, read_ctm, write_ctm
from seqlabel.errors import DataError
from seqlabel.types import Hypothesis

CTM_LINE = re.compile(r"(\S+) (\S+) (\d+\.\d{3}) (\d+\.\d{3}) (\S+) ([01]\.\d{3})")


def assert_spans_cover(al, targets: list[int], T: int) -> None:
    assert [s.token for s in al.spans] == targets  # the transcript, in order
    for s in al.spans:
        assert 0 <= s.start < s.end <= T and 0.0 < s.confidence <= 1.0
    for a, b in zip(al.spans, al.spans[1:]):
        assert a.end <= b.start  # monotone, no overlap
        if a.token == b.token:
            assert a.end < b.start  # a repeated token needs a blank between


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("targets", [[1], [1, 2], [2, 2], [1, 2, 1], [3, 1, 3]])
def test_forced_alignment_is_the_best_path_for_the_transcript(seed: int, targets: list[int]) -> None:
    T, C = 6, 4
    lp = random_log_probs(T, C, seed)
    best = max((p for p in itertools.product(range(C), repeat=T) if collapse(p) == tuple(targets)),
               key=lambda p: sum(lp[t, c] for t, c in enumerate(p)))
    al = forced_align(lp, targets)
    assert al.score == pytest.approx(sum(lp[t, c] for t, c in enumerate(best)), abs=1e-5)
    assert_spans_cover(al, targets, T)
    for s in al.spans:  # a span's confidence is its token's peak posterior within the span
        assert s.confidence == pytest.approx(float(np.exp(lp[s.start:s.end, s.token].max())), rel=1e-5)
    assert al.confidence == pytest.approx(float(np.exp(np.mean([np.log(s.confidence) for s in al.spans]))))


def test_forced_alignment_of_a_long_transcript_is_monotone() -> None:
    T, C = 200, 12
    lp = random_log_probs(T, C, seed=9, scale=1.0)
    rng = np.random.default_rng(0)
    targets = rng.integers(1, C, size=60).tolist()
    al = forced_align(torch.from_numpy(lp), targets)
    assert_spans_cover(al, targets, T)


def test_batch_alignment_equals_items() -> None:
    lp = np.stack([random_log_probs(8, 4, s) for s in range(3)])
    targets = [[1, 2], [3], []]
    lengths = [8, 5, 4]
    batch = align_batch(torch.from_numpy(lp), torch.tensor(lengths), targets)
    for b in range(3):
        assert batch[b] == forced_align(lp[b, : lengths[b]], targets[b])
    assert batch[2].spans == () and batch[2].score == pytest.approx(lp[2, :4, 0].sum())


def test_infeasible_or_bad_transcripts_are_refused() -> None:
    lp = random_log_probs(3, 4, seed=0)
    with pytest.raises(ValueError, match="needs at least 4 frames, the log-probs have 3"):
        forced_align(lp, [1, 1, 2])
    with pytest.raises(ValueError, match=r"class ids in \[1, 3\]"):
        forced_align(lp, [0, 1])
    with pytest.raises(ValueError, match=r"class ids in \[1, 3\]"):
        forced_align(lp, [4])
    with pytest.raises(ValueError, match="2 utterances but 1 transcripts"):
        align_batch(np.stack([lp, lp]), None, [[1]])


def test_path_spans_agree_with_greedy() -> None:
    lp = random_log_probs(30, 5, seed=4, scale=3.0)
    (ids, frames), = greedy_search(torch.from_numpy(lp)[None], torch.tensor([30]))
    al = path_alignment(lp, lp.argmax(axis=1))
    assert [s.token for s in al.spans] == ids and [s.start for s in al.spans] == frames
    assert al.score == pytest.approx(lp.max(axis=1).sum())


# ----------------------------------------------------------------------------- CTM
def test_ctm_lines_per_token_and_per_word(tmp_path: Path) -> None:
    hyp = Hypothesis("utt1", ("a", "b", "|", "c"), timesteps=(2, 4, 7, 9), durations=(1, 2, 1, 3),
                     token_confidences=(0.9, 0.5, 1.0, 0.75), frame_seconds=0.03)
    path = write_ctm(tmp_path / "out.ctm", [hyp, Hypothesis("utt2", (), frame_seconds=0.03)])
    lines = path.read_text().splitlines()
    assert lines == ["utt1 1 0.060 0.030 a 0.900", "utt1 1 0.120 0.060 b 0.500", "utt1 1 0.210 0.030 | 1.000",
                     "utt1 1 0.270 0.090 c 0.750"]
    assert all(CTM_LINE.fullmatch(line) for line in lines)
    words = ctm_entries(hyp, channel="A", level="word")
    assert [(e.token, e.channel, e.start, e.duration, e.confidence) for e in words] == [
        ("ab", "A", pytest.approx(0.06), pytest.approx(0.12), 0.5), ("c", "A", pytest.approx(0.27), pytest.approx(0.09), 0.75)]
    back = read_ctm(path)
    assert [(e.utt, e.token) for e in back] == [("utt1", t) for t in "ab|c"]
    assert back[1].start == pytest.approx(0.12) and back[1].confidence == 0.5


def test_ctm_needs_timing_and_reads_strictly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frame timing"):
        ctm_entries(Hypothesis("u", ("a",), timesteps=(1,)))
    bad = tmp_path / "bad.ctm"
    bad.write_text(";; comment\nu 1 0.1 0.2 a 0.5\nu 1 zero 0.2 b\n")
    with pytest.raises(DataError, match="bad.ctm:3: start, duration"):
        read_ctm(bad)


# ----------------------------------------------------------------------------- command line
def test_align_command_writes_a_ctm(phone_run: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "align.ctm"
    result = CliRunner().invoke(main, ["align", str(phone_run["checkpoint"]), str(phone_run["dev"]), "--out", str(out),
                                       "--device", "cpu"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "aligned 3 utterances" in result.output
    entries = read_ctm(out)
    assert all(CTM_LINE.fullmatch(line) for line in out.read_text().splitlines())
    for utt in read_manifest(phone_run["dev"]):
        mine = [e for e in entries if e.utt == utt.id]
        assert [e.token for e in mine] == utt.text.split()  # the whole transcript
        starts = [e.start for e in mine]
        assert starts == sorted(starts)
        assert all(a.start + a.duration <= b.start + 1e-9 for a, b in zip(mine, mine[1:]))
        assert all(e.duration > 0 for e in mine)
        # 10 ms frames, no subsampling: times are whole output frames of 0.01 s
        assert all(abs(x / 0.01 - round(x / 0.01)) < 1e-6 for e in mine for x in (e.start, e.duration))
    refused = CliRunner().invoke(main, ["align", str(phone_run["checkpoint"]), str(phone_run["dev"]), "--out",
                                        str(out), "--level", "word"])
    assert refused.exit_code == 1 and "word-level CTM needs character tokens" in refused.output
