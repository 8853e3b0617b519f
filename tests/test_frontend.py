"""The convolutional front end (seqlabel/models/frontend.py): output lengths equal the pooling arithmetic,
a batch equals its items with padding that does not leak, validation, gradients."""
from __future__ import annotations

import math

import pytest
import torch

from seqlabel.config import ModelConfig, config_from_data
from seqlabel.errors import ConfigError
from seqlabel.models.bilstm import build_model
from seqlabel.models.lengths import output_lengths


# ----------------------------------------------------------------------------- CNN front end
def cnn_model(channels: list[int], time_pool: int = 1, height_pool: int = 2, stacking: int = 1,
              subsampling: int = 1, features: int = 12, seed: int = 0):
    torch.manual_seed(seed)
    config = ModelConfig(num_layers=1, hidden_size=8, cnn_channels=channels, cnn_time_pool=time_pool,
                         cnn_height_pool=height_pool, frame_stacking=stacking, subsampling=subsampling)
    return build_model(features, 6, config), config


def padded(lengths: list[int], features: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(len(lengths), max(lengths), features)
    for b, n in enumerate(lengths):
        x[b, :n] = torch.rand(n, features, generator=g)
    return x, torch.tensor(lengths)


CNN_CASES = [([4], 1, 2, 1, 1), ([4, 5], 2, 2, 1, 1), ([3, 3, 3], 2, 3, 2, 2), ([6], 3, 1, 1, 2), ([2, 2], 1, 2, 3, 3)]


@pytest.mark.parametrize("channels, time_pool, height_pool, stacking, subsampling", CNN_CASES)
def test_cnn_output_lengths_match_the_arithmetic(channels, time_pool, height_pool, stacking, subsampling) -> None:
    model, config = cnn_model(channels, time_pool, height_pool, stacking, subsampling)
    lengths = [1, 2, 3, 5, 8, 13, 16, 17]
    x, lens = padded(lengths)
    with torch.no_grad():
        log_probs, out_lengths = model.eval()(x, lens)
    reduction = time_pool ** len(channels) * subsampling
    assert config.time_reduction == reduction
    assert out_lengths.tolist() == [math.ceil(n / reduction) for n in lengths]
    assert out_lengths.tolist() == output_lengths(lens, config.time_reduction).tolist()
    assert log_probs.shape[:2] == (len(lengths), math.ceil(max(lengths) / reduction))


@pytest.mark.parametrize("channels, time_pool, height_pool, stacking, subsampling", CNN_CASES)
def test_cnn_batch_equals_items_and_padding_does_not_leak(channels, time_pool, height_pool, stacking,
                                                          subsampling) -> None:
    model, _ = cnn_model(channels, time_pool, height_pool, stacking, subsampling)
    model.eval()
    lengths = [13, 4, 9, 1, 16, 7]
    x, lens = padded(lengths, seed=1)
    dirty = x.clone()
    for b, n in enumerate(lengths):
        dirty[b, n:] = 50.0
    with torch.no_grad():
        batch_lp, batch_len = model(x, lens)
        dirty_lp, _ = model(dirty, lens)
        for b, n in enumerate(lengths):
            alone, alone_len = model(x[b : b + 1, :n], lens[b : b + 1])
            m = int(alone_len[0])
            assert int(batch_len[b]) == m
            torch.testing.assert_close(batch_lp[b, :m], alone[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(dirty_lp[b, :m], alone[0], atol=1e-5, rtol=1e-5)


def test_cnn_is_off_by_default_and_validated() -> None:
    assert build_model(12, 6, ModelConfig(num_layers=1, hidden_size=8)).cnn is None
    model, _ = cnn_model([4, 8], height_pool=2, features=12)
    assert model.lstm.input_size == 8 * 3  # 12 rows pooled twice by 2 (ceil): 6, then 3; 8 channels
    for bad, key in (({"cnn_channels": [4, 0]}, "cnn_channels"), ({"cnn_kernel": 4}, "cnn_kernel"),
                     ({"cnn_time_pool": 0}, "cnn_time_pool"), ({"cnn_channels": "16"}, "cnn_channels")):
        with pytest.raises(ConfigError, match=key):
            config_from_data({"model": bad})


def test_cnn_gradients_reach_every_parameter() -> None:
    model, _ = cnn_model([3, 4], time_pool=2)
    x, lens = padded([16, 9])
    log_probs, out_lengths = model(x, lens)
    loss = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), torch.tensor([[1, 2], [3, 0]]), out_lengths,
                                        torch.tensor([2, 1]))
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
