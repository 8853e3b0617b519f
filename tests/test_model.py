"""seqlabel.models.bilstm: output-length arithmetic, normalised log-probs, batch == items, train == eval."""
from __future__ import annotations

import math

import pytest
import torch

from seqlabel.config import ModelConfig
from seqlabel.models.bilstm import bilstm, build_model, packed_bilstm, stack_frames
from seqlabel.models.frontend import mask_frames
from seqlabel.models.lengths import output_lengths

F, C = 5, 7
COMBOS = [(1, 1), (1, 2), (2, 2), (3, 2), (3, 3), (2, 1), (1, 4), (4, 3)]  # (frame_stacking, subsampling)


def tiny(stacking: int = 1, subsampling: int = 1, projection: int = 0, layers: int = 1, dropout: float = 0.0,
         seed: int = 0):
    torch.manual_seed(seed)
    config = ModelConfig(num_layers=layers, hidden_size=8, projection_size=projection, dropout=dropout,
                         frame_stacking=stacking, subsampling=subsampling)
    return build_model(F, C, config)


def padded_batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, F) random features zero-padded past each length, as collate makes them."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(lengths), max(lengths), F)
    for b, n in enumerate(lengths):
        x[b, :n] = torch.randn(n, F, generator=g)
    return x, torch.tensor(lengths)


@pytest.mark.parametrize("subsampling", [1, 2, 3, 4, 7])
def test_output_lengths_are_ceil(subsampling: int) -> None:
    lengths = torch.arange(1, 40)
    expected = [math.ceil(n / subsampling) for n in range(1, 40)]
    assert output_lengths(lengths, subsampling).tolist() == expected


@pytest.mark.parametrize("stacking, subsampling", COMBOS)
def test_output_lengths_match_log_prob_lengths(stacking: int, subsampling: int) -> None:
    model = tiny(stacking, subsampling).eval()
    lengths = [1, 2, 5, 6, 11, 12, 13]
    x, lens = padded_batch(lengths)
    with torch.no_grad():
        log_probs, out_lengths = model(x, lens)
    assert out_lengths.tolist() == [math.ceil(n / subsampling) for n in lengths]
    assert log_probs.shape == (len(lengths), math.ceil(max(lengths) / subsampling), C)
    for b, n in enumerate(lengths):  # alone, each item's log-prob sequence has exactly its output length
        with torch.no_grad():
            alone, alone_len = model(x[b : b + 1, :n], lens[b : b + 1])
        assert alone.shape[1] == int(out_lengths[b]) == int(alone_len[0])


def test_stack_frames_layout() -> None:
    x = torch.arange(1, 6, dtype=torch.float32).view(1, 5, 1)  # frames 1..5, one feature
    assert stack_frames(x, 3, 2).squeeze(0).tolist() == [[1, 2, 3], [3, 4, 5], [5, 0, 0]]
    assert stack_frames(x, 1, 2).squeeze(0).tolist() == [[1], [3], [5]]
    assert stack_frames(x, 1, 1) is x


@pytest.mark.parametrize("stacking, subsampling, projection", [(1, 1, 0), (3, 2, 4), (2, 3, 0)])
def test_log_probs_are_normalised(stacking: int, subsampling: int, projection: int) -> None:
    model = tiny(stacking, subsampling, projection)
    x, lens = padded_batch([9, 4, 7])
    log_probs, _ = model(x, lens)
    assert log_probs.dtype == torch.float32
    assert (log_probs <= 0).all()
    torch.testing.assert_close(log_probs.logsumexp(dim=-1), torch.zeros(log_probs.shape[:2]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("stacking, subsampling, projection, layers", [(3, 2, 4, 1), (3, 2, 4, 2), (1, 1, 0, 2),
                                                                        (2, 3, 0, 1)])
def test_padded_batch_equals_items_alone(stacking: int, subsampling: int, projection: int, layers: int) -> None:
    model = tiny(stacking, subsampling, projection, layers).eval()
    lengths = [13, 4, 9, 1, 13, 8]
    x, lens = padded_batch(lengths, seed=1)
    with torch.no_grad():
        batch_lp, batch_len = model(x, lens)
        for b, n in enumerate(lengths):
            alone, alone_len = model(x[b : b + 1, :n], lens[b : b + 1])
            m = int(alone_len[0])
            assert int(batch_len[b]) == m
            torch.testing.assert_close(batch_lp[b, :m], alone[0], atol=1e-5, rtol=1e-5)


def test_padding_content_does_not_leak() -> None:
    """Whatever sits past an item's length (garbage, not zeros) must not change its outputs."""
    model = tiny(1, 2, 4).eval()
    x, lens = padded_batch([10, 4])
    dirty = x.clone()
    dirty[1, 4:] = 100.0
    with torch.no_grad():
        clean_lp, _ = model(x, lens)
        dirty_lp, _ = model(dirty, lens)
    torch.testing.assert_close(clean_lp[1, :2], dirty_lp[1, :2])
    torch.testing.assert_close(clean_lp[0], dirty_lp[0])


def test_train_and_eval_agree_without_dropout() -> None:
    model = tiny(3, 2, 4, layers=2, dropout=0.0)
    x, lens = padded_batch([11, 6, 3])
    model.train()
    train_lp, train_len = model(x, lens)
    model.eval()
    with torch.no_grad():
        eval_lp, eval_len = model(x, lens)
    assert torch.equal(train_len, eval_len)
    torch.testing.assert_close(train_lp.detach(), eval_lp)


def test_dropout_only_acts_in_training() -> None:
    model = tiny(1, 1, 0, layers=2, dropout=0.5)
    x, lens = padded_batch([12, 7])
    model.eval()
    with torch.no_grad():
        a, _ = model(x, lens)
        b, _ = model(x, lens)
    assert torch.equal(a, b)
    model.train()
    torch.manual_seed(0)
    c, _ = model(x, lens)
    assert not torch.allclose(c.detach(), a)


def test_wrong_input_shape_names_the_shape() -> None:
    model = tiny()
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        model(torch.zeros(2, 3, 4), torch.tensor([3, 3]))
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        model(torch.zeros(3, 5), torch.tensor([3]))


def test_gradients_reach_every_parameter() -> None:
    model = tiny(2, 2, 4, layers=2)
    x, lens = padded_batch([8, 5])
    log_probs, out_lengths = model(x, lens)
    loss = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), torch.tensor([[1, 2], [3, 0]]), out_lengths,
                                        torch.tensor([2, 1]))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in model.parameters())


@pytest.mark.parametrize("projection", [0, 3])
def test_padded_bilstm_equals_packed_sequences(projection: int) -> None:
    """``bilstm`` on padded frames gives nn.LSTM's packed-sequence outputs and gradients at real frames."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True, proj_size=projection)
    lengths = torch.tensor([7, 3, 5])
    x = torch.randn(3, 7, 5, requires_grad=True)
    expected = packed_bilstm(lstm, x, lengths)  # the CUDA path
    got = mask_frames(bilstm(lstm, x, lengths), lengths, dim=1)  # the CPU path
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    weights = torch.randn_like(got)
    grads_expected = torch.autograd.grad((expected * weights).sum(), [x, *lstm.parameters()])
    grads_got = torch.autograd.grad((got * weights).sum(), [x, *lstm.parameters()])
    for a, b in zip(grads_got, grads_expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
