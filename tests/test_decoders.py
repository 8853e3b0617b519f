"""seqlabel.decoders.greedy and seqlabel.inference.batch.ctc_min_frames against brute force and ctc_loss."""
from __future__ import annotations

import itertools

import pytest
import torch

from seqlabel.decoders import greedy_search
from seqlabel.models.lengths import ctc_min_frames


def collapse(path: tuple[int, ...], blank: int = 0) -> tuple[int, ...]:
    """The CTC many-to-one map: merge repeats, then drop blanks."""
    out, prev = [], None
    for c in path:
        if c != prev and c != blank:
            out.append(c)
        prev = c
    return tuple(out)


def brute_force_best_path(log_probs: torch.Tensor) -> tuple[int, ...]:
    """(T, C) -> the most probable of all C^T frame paths."""
    T, C = log_probs.shape
    table = log_probs.tolist()
    return max(itertools.product(range(C), repeat=T), key=lambda p: sum(table[t][c] for t, c in enumerate(p)))


def random_log_probs(B: int, T: int, C: int, seed: int, peaked: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (peaked * torch.randn(B, T, C, generator=g)).log_softmax(-1)


@pytest.mark.parametrize("seed", range(6))
def test_greedy_agrees_with_brute_force_best_path(seed: int) -> None:
    T, C = 5, 3
    log_probs = random_log_probs(4, T, C, seed)
    lengths = torch.full((4,), T)
    for b, (labels, frames) in enumerate(greedy_search(log_probs, lengths)):
        best = brute_force_best_path(log_probs[b])
        assert tuple(labels) == collapse(best)
        assert all(best[t] == label for t, label in zip(frames, labels))  # each label's frame emits it


def test_greedy_respects_lengths() -> None:
    T, C = 9, 4
    log_probs = random_log_probs(5, T, C, seed=11)
    lengths = torch.tensor([9, 5, 1, 7, 0])
    results = greedy_search(log_probs, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = greedy_search(log_probs[b : b + 1, :n], torch.tensor([n]))[0]
        assert results[b] == alone
        assert all(t < n for t in results[b][1])
    assert results[4] == ([], [])


def test_greedy_ignores_frames_past_the_length() -> None:
    log_probs = torch.full((1, 6, 3), -10.0)
    for t, c in enumerate([1, 1, 0, 2, 1, 2]):
        log_probs[0, t, c] = 0.0
    assert greedy_search(log_probs, torch.tensor([4])) == [([1, 2], [0, 3])]
    assert greedy_search(log_probs, torch.tensor([6])) == [([1, 2, 1, 2], [0, 3, 4, 5])]


def test_greedy_blank_separates_repeats() -> None:
    log_probs = torch.full((1, 7, 3), -10.0)
    for t, c in enumerate([2, 2, 0, 2, 0, 0, 1]):
        log_probs[0, t, c] = 0.0
    assert greedy_search(log_probs, torch.tensor([7])) == [([2, 2, 1], [0, 3, 6])]


@pytest.mark.parametrize("seed", range(4))
def test_timesteps_are_increasing_and_label_frames(seed: int) -> None:
    log_probs = random_log_probs(6, 40, 5, seed, peaked=1.0)
    lengths = torch.randint(1, 41, (6,), generator=torch.Generator().manual_seed(seed))
    argmax = log_probs.argmax(-1)
    for b, (labels, frames) in enumerate(greedy_search(log_probs, lengths)):
        assert len(labels) == len(frames)
        assert all(a < b_ for a, b_ in zip(frames, frames[1:]))
        assert all(int(argmax[b, t]) == label for t, label in zip(frames, labels))
        assert 0 not in labels


def test_greedy_other_blank_index_and_bad_shape() -> None:
    log_probs = torch.full((1, 4, 3), -10.0)
    for t, c in enumerate([0, 2, 2, 1]):
        log_probs[0, t, c] = 0.0
    assert greedy_search(log_probs, torch.tensor([4]), blank=2)[0][0] == [0, 1]
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        greedy_search(torch.zeros(4, 3), torch.tensor([4]))


@pytest.mark.parametrize("seed", range(8))
def test_greedy_path_probability_bounded_by_ctc(seed: int) -> None:
    """P(best path) <= P(its labels) = exp(-ctc_loss): CTC sums over all alignments."""
    B, T, C = 6, 12, 4
    log_probs = random_log_probs(B, T, C, seed, peaked=1.5)
    lengths = torch.tensor([12, 12, 9, 5, 3, 1])
    for b, (labels, _) in enumerate(greedy_search(log_probs, lengths)):
        n = int(lengths[b])
        path_logp = float(log_probs[b, :n].max(-1).values.sum())
        target = torch.tensor([labels], dtype=torch.long) if labels else torch.zeros(1, 0, dtype=torch.long)
        nll = torch.nn.functional.ctc_loss(log_probs[b : b + 1, :n].transpose(0, 1), target, torch.tensor([n]),
                                           torch.tensor([len(labels)]), reduction="sum")
        assert path_logp <= -float(nll) + 1e-5
        # and with a single frame there is exactly one alignment: equality
        if n == 1:
            assert path_logp == pytest.approx(-float(nll), abs=1e-5)


def feasible_sets(T_max: int, C: int) -> dict[int, set[tuple[int, ...]]]:
    """For each T, every label sequence that some length-T frame path collapses to."""
    return {T: {collapse(p) for p in itertools.product(range(C), repeat=T)} for T in range(0, T_max + 1)}


def test_ctc_min_frames_matches_brute_force_feasibility() -> None:
    C, T_max = 3, 7
    feasible = feasible_sets(T_max, C)
    sequences = [s for L in range(0, 5) for s in itertools.product(range(1, C), repeat=L)]
    L_max = max(len(s) for s in sequences)
    targets = torch.zeros(len(sequences), L_max, dtype=torch.long)  # padded with 0, as collate does
    for i, s in enumerate(sequences):
        targets[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    lengths = torch.tensor([len(s) for s in sequences])
    got = ctc_min_frames(targets, lengths).tolist()
    for s, need in zip(sequences, got):
        brute = min((T for T in range(T_max + 1) if s in feasible[T]), default=None)
        if brute is not None:
            assert need == brute, s
        else:
            assert need > T_max, s


def test_ctc_min_frames_agrees_with_ctc_loss_finiteness() -> None:
    g = torch.Generator().manual_seed(0)
    targets = torch.tensor([[1, 1, 1, 0], [1, 2, 1, 2], [2, 2, 0, 0], [1, 0, 0, 0]])
    lengths = torch.tensor([3, 4, 2, 1])
    need = ctc_min_frames(targets, lengths)
    for T in range(1, 7):
        log_probs = torch.randn(T, len(targets), 3, generator=g).log_softmax(-1)
        loss = torch.nn.functional.ctc_loss(log_probs, targets, torch.full((len(targets),), T), lengths,
                                            reduction="none")
        assert (torch.isfinite(loss) == (need <= T)).all(), (T, loss, need)


def test_ctc_min_frames_edge_shapes() -> None:
    assert ctc_min_frames(torch.zeros(2, 0, dtype=torch.long), torch.tensor([0, 0])).tolist() == [0, 0]
    assert ctc_min_frames(torch.tensor([[5], [0]]), torch.tensor([1, 0])).tolist() == [1, 0]
    # padding after a shorter target never counts as repeats
    assert ctc_min_frames(torch.tensor([[3, 0, 0, 0], [3, 3, 3, 3]]), torch.tensor([1, 4])).tolist() == [1, 7]
