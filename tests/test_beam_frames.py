"""seqlabel.decoders.beam_frames: the step schedule and its gaps in closed form against the frame-by-frame
CTC recursion, and the input checks on padded batches."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import random_log_probs

from seqlabel.decoders.beam_frames import check_log_probs, passing_tokens, schedule, schedule_one


def frame_by_frame(lp: np.ndarray, start: int, stop: int, last: int, pb: float, pnb: float) -> tuple[float, float]:
    """Frames start..stop-1 of lp (T, C) applied to a prefix ending in ``last`` (-1: empty) that no
    token extends: p_b <- logaddexp(p_b, p_nb) + blank, p_nb <- p_nb + log p(last)."""
    for t in range(start, stop):
        pb, pnb = np.logaddexp(pb, pnb) + lp[t, 0], (pnb + lp[t, last] if last >= 0 else -np.inf)
    return float(pb), float(pnb)


@pytest.mark.parametrize("seed", range(4))
def test_gaps_equal_the_frame_by_frame_recursion(seed: int) -> None:
    B, T, C = 5, 40, 5
    lp = np.stack([random_log_probs(T, C, seed * B + b, scale=3.0) for b in range(B)])
    lens = np.array([40, 17, 0, 33, 1])
    passing = passing_tokens(lp, -0.4, 0.5, 0)  # (B, T, C-1): sparse events, long gaps
    events = passing.any(axis=2) & (np.arange(T)[None, :] < lens[:, None])
    order = np.argsort(-events.sum(axis=1), kind="stable")
    sch = schedule(lp, order, lens[order], events[order])
    rng = np.random.default_rng(seed)
    longest = 0
    for i, b in enumerate(order.tolist()):
        steps = int(sch.steps[i])
        assert list(sch.frames[i, :steps]) == np.flatnonzero(events[b]).tolist()
        bounds = [-1, *sch.frames[i, :steps].tolist(), int(lens[b])]  # gap s: frames bounds[s]+1 .. bounds[s+1]-1
        for s in range(steps + 1):
            r = sch.gap_row[i, s]
            for last in range(-1, C) if s else [-1]:  # before the first step only the empty prefix lives
                if last == 0:
                    continue  # a prefix never ends in the blank
                pb, pnb = rng.normal(-3, 2), (rng.normal(-3, 2) if last >= 0 else -np.inf)
                want = frame_by_frame(lp[b], bounds[s] + 1, bounds[s + 1], last, pb, pnb)
                got_pb = np.logaddexp(pb + sch.stay[r, 0], pnb + sch.leave[r, last])
                got_pnb = pnb + sch.stay[r, last]
                assert (got_pb, got_pnb) == pytest.approx(want, abs=1e-9)
            longest = max(longest, bounds[s + 1] - bounds[s] - 1)
    assert longest >= 3  # some gaps span several frames


def test_check_log_probs_ignores_padding_and_names_the_bad_frame() -> None:
    lp = np.stack([random_log_probs(6, 3, s) for s in range(3)])
    lp[1, 4:] = 0.0  # padding: not normalised, but beyond the length
    arr, lens = check_log_probs(lp, [6, 4, 6])
    assert arr is lp and lens.tolist() == [6, 4, 6]
    lp[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="utterance 2, frame 3 holds NaN"):
        check_log_probs(lp, [6, 4, 6])
    lp[2, 3] = np.log([0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="not normalised: utterance 2, frame 3"):
        check_log_probs(lp, [6, 4, 6])


def test_gaps_of_float32_log_probs_are_summed_in_float64() -> None:
    B, T, C = 3, 300, 4
    lp = np.stack([random_log_probs(T, C, s, scale=4.0) for s in range(B)]).astype(np.float32)
    lens = np.array([300, 250, 120])
    events = passing_tokens(lp, -0.2, None, 0).any(axis=2) & (np.arange(T)[None, :] < lens[:, None])
    order = np.argsort(-events.sum(axis=1), kind="stable")
    single = schedule(lp, order, lens[order], events[order])
    double = schedule(lp.astype(np.float64), order, lens[order], events[order])
    assert single.stay.dtype == np.float64
    np.testing.assert_allclose(single.stay, double.stay, rtol=0, atol=1e-9)
    np.testing.assert_allclose(single.leave, double.leave, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_schedule_one_is_schedule_of_one_utterance_to_the_bit(seed: int, dtype: type) -> None:
    T, C = 50, 5
    lp = random_log_probs(T, C, seed, scale=3.0).astype(dtype)
    for length, min_logp in [(50, -0.4), (31, -0.4), (50, -50.0), (50, 1.0), (0, -0.4), (1, 1.0)]:
        events = passing_tokens(lp, min_logp, None, 0).any(axis=1) & (np.arange(T) < length)
        sch = schedule(lp[None], np.zeros(1, dtype=np.int64), np.array([length]), events[None])
        frames, gaps = schedule_one(lp, length, events)
        steps = int(sch.steps[0])
        assert frames.tolist() == sch.frames[0, :steps].tolist()
        empty = sch.stay.shape[0] - 1
        want = [None if r == empty else (sch.stay[r].tolist(), sch.leave[r].tolist())
                for r in sch.gap_row[0, :steps + 1].tolist()]
        assert gaps == want, (length, min_logp)
