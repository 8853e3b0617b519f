"""Frame-level preparation for the prefix beam search (``beam.py``): input checks, the frames
where a token may start, and the frames in between applied in closed form (``schedule`` for the
lockstep search of a batch, ``schedule_one`` for one utterance, the same sums).

Shape legend: B utterances, T output frames, C classes (blank = 0), S search steps, G gaps
(the runs of frames between two steps, and after the last one: S_b + 1 per utterance b).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

NEG_INF = -np.inf
NORMALISATION_TOLERANCE = 0.05  # |logsumexp over classes| per frame; bf16 softmax stays well inside
FLOOR = -1e4  # log-probs below this are taken as this in sums over gaps (exp underflows long before)


def check_log_probs(log_probs: Any, lengths: Any = None, what: str = "log_probs") -> tuple[np.ndarray, np.ndarray]:
    """(B, T, C) log-probs (tensor or array) and lengths (B,) -> float array (float32 stays float32,
    anything else becomes float64; no copy when none is needed), int64 lengths.

    Refuses other shapes, lengths out of range, NaN or infinite-positive frames, and frames
    that are not normalised (probabilities summing to something other than 1).
    """
    if isinstance(log_probs, torch.Tensor):
        t = log_probs.detach().cpu()
        log_probs = t.numpy() if t.dtype in (torch.float32, torch.float64) else t.to(torch.float64).numpy()
    arr = np.asarray(log_probs)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim != 3:
        raise ValueError(f"{what} must be 3D (B, T, C), got shape {tuple(arr.shape)}")
    B, T, C = arr.shape
    if C < 2:
        raise ValueError(f"{what} must have at least 2 classes (blank + one token), got C={C}")
    if lengths is None:
        lens = np.full(B, T, dtype=np.int64)
    else:
        lens = np.asarray(lengths.cpu() if isinstance(lengths, torch.Tensor) else lengths, dtype=np.int64).reshape(-1)
        if lens.shape != (B,):
            raise ValueError(f"lengths must be (B,) = ({B},), got shape {tuple(lens.shape)}")
        if (lens < 0).any() or (lens > T).any():
            raise ValueError(f"lengths must lie in [0, {T}], got {lens.tolist()}")
    flat = np.flatnonzero(np.arange(T)[None, :] < lens[:, None])  # (frames,) valid frames of the (B*T) rows
    frames = arr.reshape(B * T, C).take(flat, axis=0)  # (frames, C)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # float32 is plenty for the tolerance
        sums = np.log(np.exp(frames.astype(np.float32)) @ np.ones(C, dtype=np.float32))  # (frames,) logsumexp
    off = ~(np.abs(sums) <= NORMALISATION_TOLERANCE)  # NaN frames too
    if off.any():
        first = int(np.flatnonzero(off)[0])
        b, t = divmod(int(flat[first]), T)
        values = arr[b, t]
        if np.isnan(values).any() or np.isposinf(values).any():
            raise ValueError(f"{what}: utterance {b}, frame {t} holds NaN or +inf values: {values.tolist()[:8]}")
        raise ValueError(f"{what} are not normalised: utterance {b}, frame {t} has logsumexp {sums[first]:.4g} "
                         "(expected 0); pass log_softmax outputs, not logits or probabilities")
    return arr, lens


def passing_tokens(lp: np.ndarray, token_min_logp: Optional[float], log_blank_threshold: Optional[float],
                   token_topk: int) -> np.ndarray:
    """Tokens worth starting at each frame: log-probs (..., C) -> mask (..., C-1) over tokens 1..C-1.

    Those with log-prob >= ``token_min_logp`` (None: all), among the ``token_topk`` best (0: no
    limit; ties kept), none where the blank's log-prob is >= ``log_blank_threshold`` (None: never).
    """
    toks = lp[..., 1:]
    ok = np.ones(toks.shape, dtype=bool) if token_min_logp is None else toks >= token_min_logp
    if log_blank_threshold is not None:
        ok &= lp[..., :1] < log_blank_threshold
    k = token_topk
    if k and k < toks.shape[-1]:
        ok &= toks >= -np.partition(-toks, k - 1, axis=-1)[..., k - 1:k]  # the k best (ties kept)
    return ok


@dataclass(frozen=True)
class Schedule:
    """Where the search steps for utterances ``rid`` (B,) of some log-probs (*, T, C), sorted by their
    number of steps, most first, and the gaps in between in closed form.

    Step s of utterance b handles frame ``frames[b, s]``, the s-th where some token may start
    (s < ``steps[b]``). Gap (b, s) holds the frames before step s (after step s-1), gap
    (b, ``steps[b]``) those after the last step. Applying gap (b, s) to a prefix ending in
    token c (c = -1: the empty prefix, read from the extra column C), with r = ``gap_row[b, s]``:

        p_b  <- logaddexp(p_b + stay[r, 0], p_nb + leave[r, c])
        p_nb <- p_nb + stay[r, c]

    ``stay`` sums each class's log-probs over the gap (a token that repeats at every frame; the
    blank in column 0); ``leave`` sums over the gap's frames s the paths that repeat the token up
    to s-1, then emit blanks from s on. An empty gap changes nothing (0, 0, -inf). Gaps (b, 0)
    only ever see the empty prefix: their rows hold the blank's sum alone.
    """

    frames: np.ndarray  # (B, S) int64, padded with 0
    steps: np.ndarray  # (B,) int64, descending
    active: np.ndarray  # (S,) int64: utterances with a step s left (a prefix of the B)
    gap_row: np.ndarray  # (B, S+1) int64: each gap's row in the tables (empty gaps share the last row)
    any_gap: np.ndarray  # (S+1,) bool: some utterance has a non-empty gap s
    stay: np.ndarray  # (rows, C+1)
    leave: np.ndarray  # (rows, C+1)


def schedule(lp: np.ndarray, rid: np.ndarray, lens: np.ndarray, events: np.ndarray) -> Schedule:
    """The steps and gaps of utterances ``rid`` (B,) of lp (*, T, C), given their lengths (B,) and
    the frames where some token passes the pruning (B, T), sorted by their number, most first."""
    B, T = events.shape
    C = lp.shape[2]
    steps = events.sum(axis=1)  # (B,)
    S = int(steps.max()) if B else 0
    ev_r, ev_t = np.nonzero(events)
    frames = np.zeros((B, max(S, 1)), dtype=np.int64)
    frames[ev_r, np.arange(ev_r.size) - np.searchsorted(ev_r, ev_r)] = ev_t
    active = (steps[None, :] > np.arange(S)[:, None]).sum(axis=1)  # (S,)
    gap0 = np.cumsum(steps + 1) - (steps + 1)
    G = int((steps + 1).sum())
    in_gap = (np.arange(T)[None, :] < lens[:, None]) & ~events  # (B, T)
    gb, gt = np.nonzero(in_gap)  # (N,) the frames of all gaps, gap after gap
    before = np.cumsum(events, axis=1)[gb, gt]  # (N,) the steps before each frame
    frame = lp.reshape(-1, C).take(rid[gb] * T + gt, axis=0).astype(np.float64, copy=False)  # (N, C) sums in float64
    np.maximum(frame, FLOOR, out=frame)
    lead = before == 0  # before the first step only the empty prefix lives: the blank is all that matters
    lead_gap, lead_blank = _blank_sums(frame[lead, 0], gap0[gb[lead]])
    rest = ~lead
    main_gap, main_stay, main_leave = _gap_sums(np.ascontiguousarray(frame[rest].T), gap0[gb[rest]] + before[rest])
    g, h = main_gap.size, lead_gap.size
    stay = np.zeros((g + h + 1, C + 1))  # the last row: empty gaps (nothing changes)
    stay[:g, :C] = main_stay
    stay[g:g + h, 0] = lead_blank
    leave = np.full((g + h + 1, C + 1), NEG_INF)
    leave[:g, :C] = main_leave
    index = np.full(G, g + h, dtype=np.int64)  # (G,) each gap's row
    index[main_gap] = np.arange(g)
    index[lead_gap] = g + np.arange(h)
    gap_row = np.full((B, S + 1), g + h, dtype=np.int64)
    per_gap = np.repeat(np.arange(B), steps + 1)  # (G,) the utterance of each gap
    gap_row[per_gap, np.arange(G) - gap0[per_gap]] = index
    any_gap = (gap_row < g + h).any(axis=0)
    return Schedule(frames, steps, active, gap_row, any_gap, stay, leave)


def schedule_one(lp: np.ndarray, length: int, events: np.ndarray
                 ) -> tuple[np.ndarray, list[Optional[tuple[list[float], list[float]]]]]:
    """``schedule`` for one utterance, with few numpy calls and the gaps as Python lists (for
    ``beam_single``): log-probs (T, C), its length and the frames where some token passes (T,)
    -> the steps' frames (S,) and the S+1 gaps (before each step, then after the last): None when
    empty, else the gap's rows of ``Schedule.stay`` and ``Schedule.leave`` (C+1 each), summed as
    ``schedule`` sums them (to the bit)."""
    C = lp.shape[1]
    ev = events[:length]
    frames = np.flatnonzero(ev)
    gaps: list[Optional[tuple[list[float], list[float]]]] = [None] * (frames.size + 1)
    at = np.flatnonzero(~ev)  # (N,) the frames of the gaps, gap after gap
    before = np.cumsum(ev)[at]  # (N,) each one's gap: the steps before it
    frame = lp.take(at, axis=0).astype(np.float64, copy=False)  # (N, C) sums in float64
    np.maximum(frame, FLOOR, out=frame)
    lead = before == 0  # before the first step only the empty prefix lives: the blank is all that matters
    if lead.any():
        blank = 0.0
        for value in frame[lead, 0].tolist():  # in order from 0.0, as _blank_sums' bincount adds them
            blank += value
        gaps[0] = ([blank] + [0.0] * C, [NEG_INF] * (C + 1))
    rest = ~lead
    gap, stay, leave = _gap_sums(np.ascontiguousarray(frame[rest].T), before[rest])
    rows = np.empty((gap.size, 2, C + 1))  # (g, stay/leave, C+1): class -1 (the empty prefix) in column C
    rows[:, 0, :C], rows[:, 0, C] = stay, 0.0
    rows[:, 1, :C], rows[:, 1, C] = leave, NEG_INF
    for g, (stay_row, leave_row) in zip(gap.tolist(), rows.tolist()):
        gaps[g] = (stay_row, leave_row)
    return frames, gaps


def _runs(gap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gap ids of frames (N,), gap after gap -> each run's first frame (g,), last frame (g,) and the
    run of each frame (N,)."""
    change = np.empty(gap.size, dtype=bool)  # (N,) a frame that starts a run (np.diff and np.append cost more)
    change[:1] = True
    np.not_equal(gap[1:], gap[:-1], out=change[1:])
    first = np.flatnonzero(change)
    last = np.empty_like(first)
    last[:-1] = first[1:] - 1
    last[-1:] = gap.size - 1
    member = np.repeat(np.arange(first.size), last - first + 1)
    return first, last, member


def _blank_sums(blank: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blank log-probs (N,) of frames in gaps ``gap`` (N,), gap after gap -> the gaps (g,) and their sums (g,)."""
    first, _, member = _runs(gap)
    return gap[first], np.bincount(member, weights=blank, minlength=first.size)


def _gap_sums(x: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-probs x (C, N) of frames in gaps ``gap`` (N,), gap after gap -> the gaps (g,), each class's
    sum over the gap (g, C) and the paths that leave each token for blanks in the gap (g, C)."""
    C = x.shape[0]
    first, last, member = _runs(gap)
    if not first.size:
        return gap[first], np.zeros((0, C)), np.zeros((0, C))
    cum = np.cumsum(x, axis=1)  # (C, N) running sums (gap by gap: subtract the gap's start)
    start = cum[:, first] - x[:, first]  # (C, g)
    # the paths leaving at frame s: the token up to s-1, blanks from s on
    paths = cum - x
    paths -= start[:, member]
    paths += cum[0, last][member] - cum[0] + x[0]
    top = np.maximum.reduceat(paths, first, axis=1)  # (C, g) for a stable log-sum-exp
    paths -= top[:, member]
    np.exp(paths, out=paths)
    leave = np.log(np.add.reduceat(paths, first, axis=1)) + top
    return gap[first], (cum[:, last] - start).T, leave.T
