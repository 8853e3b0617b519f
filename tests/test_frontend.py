"""The convolutional front end (seqlabel/models/frontend.py): output lengths equal the pooling arithmetic,
a batch equals its items with padding that does not leak, validation, gradients."""
from __future__ import annotations

import math
import re

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
    lengths = [13, 4, 9, 1, 16, 7]
    x, lens = padded(lengths, seed=1)
    assert_batch_equals_items(model.eval(), x, lens)


def dirty(x: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """``x`` with large values in every item's padding."""
    out = x.clone()
    for b, n in enumerate(lengths):
        out[b, n:] = 50.0
    return out


def assert_batch_equals_items(model: torch.nn.Module, x: torch.Tensor, lens: torch.Tensor) -> None:
    """Each item's log-probs in the batch, clean or with dirty padding, equal those of the item alone."""
    with torch.no_grad():
        batch_lp, batch_len = model(x, lens)
        dirty_lp, _ = model(dirty(x, lens.tolist()), lens)
        for b, n in enumerate(lens.tolist()):
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


# ----------------------------------------------------------------------------- conv blocks
def blocks_model(blocks: list[dict], features: int = 16, seed: int = 0, **model):
    torch.manual_seed(seed)
    config = config_from_data({"model": {"num_layers": 1, "hidden_size": 8, "cnn_blocks": blocks, **model}}).model
    return build_model(features, 6, config), config


BN_BLOCKS = [{"channels": 4, "kernel": [3, 5], "height_pool": 2, "time_pool": 2, "batch_norm": True,
              "activation": "leakyrelu", "dropout": 0.2},
             {"channels": 3, "kernel": 3, "height_pool": 1, "time_pool": 1, "batch_norm": True, "activation": "tanh"},
             {"channels": 5, "kernel": [1, 3], "height_pool": 3, "time_pool": 3, "activation": "elu"}]


def test_blocks_output_lengths_and_sizes_match_the_arithmetic() -> None:
    model, config = blocks_model(BN_BLOCKS, features=16, subsampling=2, frame_stacking=2)
    lengths = [1, 2, 5, 6, 7, 13, 31, 36]
    x, lens = padded(lengths, features=16)
    with torch.no_grad():
        log_probs, out_lengths = model.eval()(x, lens)
    reduction = 2 * 1 * 3 * 2  # time pools x subsampling
    assert config.time_reduction == reduction
    assert out_lengths.tolist() == [math.ceil(n / reduction) for n in lengths]
    assert out_lengths.tolist() == output_lengths(lens, config.time_reduction).tolist()
    assert model.lstm.input_size == 2 * 5 * math.ceil(math.ceil(16 / 2) / 3)  # stacking x channels x pooled rows


def test_batch_norm_model_in_eval_gives_each_item_what_it_gives_alone() -> None:
    """LeakyReLU and tanh go below zero, and batch norm shifts padding away from zero: the masking must
    still keep padding out of every real output frame."""
    model, _ = blocks_model(BN_BLOCKS, features=16)
    lengths = [13, 4, 36, 1, 16, 7]
    x, lens = padded(lengths, features=16, seed=3)
    model.train()
    for _ in range(3):  # move the running statistics away from (0, 1)
        model(x * 3 + 1, lens)
    model.eval()
    assert any(float(m.running_mean.abs().sum()) > 0.1 for m in model.modules() if hasattr(m, "running_mean"))
    assert_batch_equals_items(model, x, lens)


def test_batch_norm_training_statistics_ignore_padding() -> None:
    """In training the statistics come from real frames only: more (and dirty) padding changes neither
    the outputs at real frames nor the running statistics."""
    blocks = [{**b, "dropout": 0.0} for b in BN_BLOCKS]
    lengths = [9, 14, 5]
    x, lens = padded(lengths, features=16, seed=4)
    longer = torch.cat([dirty(x, lengths), torch.full((3, 20, 16), 7.0)], dim=1)  # 20 more padded frames
    outputs, stats = [], []
    for inputs in (x, longer):
        model, _ = blocks_model(blocks, features=16, seed=2)
        log_probs, out_lengths = model.train()(inputs, lens)
        outputs.append([log_probs[b, : int(n)] for b, n in enumerate(out_lengths)])
        stats.append([m.running_var.clone() for m in model.modules() if hasattr(m, "running_var")])
    for a, b in zip(*outputs):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    for a, b in zip(*stats):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def old_front_end(state: dict, x: torch.Tensor, lengths: torch.Tensor, height_pool: int, time_pool: int):
    """The CNN before conv blocks, from its weights: conv -> ReLU -> zero padding -> ceil max-pool per layer."""
    y = x.transpose(1, 2).unsqueeze(1)
    y = y * (torch.arange(y.shape[3]) < lengths.unsqueeze(1)).view(len(lengths), 1, 1, -1)
    layer = 0
    while f"cnn.convs.{layer}.weight" in state:
        y = torch.relu(torch.nn.functional.conv2d(y, state[f"cnn.convs.{layer}.weight"],
                                                  state[f"cnn.convs.{layer}.bias"], padding=1))
        y = y * (torch.arange(y.shape[3]) < lengths.unsqueeze(1)).view(len(lengths), 1, 1, -1)
        y = torch.nn.functional.max_pool2d(y, (height_pool, time_pool), ceil_mode=True)
        lengths = (lengths + time_pool - 1) // time_pool
        layer += 1
    return y.permute(0, 3, 1, 2).reshape(y.shape[0], y.shape[3], -1), lengths


def test_old_cnn_channels_configs_and_checkpoints_give_the_same_model() -> None:
    """cnn_channels builds the same blocks, and weights saved under the old names (convs.N) load into them."""
    model, config = cnn_model([4, 5], time_pool=2, height_pool=2)
    assert [(b.channels, b.kernel, b.height_pool, b.time_pool, b.activation, b.batch_norm, b.dropout)
            for b in config.conv_blocks] == [(c, [3, 3], 2, 2, "relu", False, 0.0) for c in (4, 5)]
    old = {k.replace("cnn.blocks.", "cnn.convs.").replace(".conv.", "."): torch.randn_like(v)
           for k, v in model.state_dict().items()}
    assert any(k.startswith("cnn.convs.1.") for k in old)
    fresh, _ = cnn_model([4, 5], time_pool=2, height_pool=2, seed=9)
    fresh.load_state_dict(old)
    x, lens = padded([11, 3, 16])
    with torch.no_grad():
        got, got_lengths = fresh.cnn(x, lens)
    want, want_lengths = old_front_end(old, x, lens, 2, 2)
    assert got_lengths.tolist() == want_lengths.tolist()
    torch.testing.assert_close(got, want)


def lstm_weights(inputs: int, hidden: int, layers: int) -> int:
    """Weights of a bidirectional nn.LSTM: 4 gates x (input + hidden + 2 biases) x hidden, two directions."""
    return sum(2 * 4 * hidden * ((inputs if k == 0 else 2 * hidden) + hidden + 2) for k in range(layers))


@pytest.mark.parametrize("preset, height, convs, rows, hidden, drops", [
    # channels, (kernel height, kernel width), batch norm; rows after pooling; LSTM units; dropouts (in, between, out)
    ("pylaia", 128, [(16, 3, 3), (16, 3, 3), (32, 3, 3), (32, 3, 3)], 16, 256, (0.5, 0.5, 0.5)),
    ("kraken", 120, [(32, 3, 13), (32, 3, 13), (64, 3, 9), (64, 3, 9)], 15, 200, (0.0, 0.1, 0.5)),
])
def test_presets_build_the_published_architectures(preset, height, convs, rows, hidden, drops) -> None:
    config = config_from_data({"model": {"preset": preset}}).model
    model = build_model(height, 10, config)
    conv_weights = sum(c * prev * kh * kw + c for (c, kh, kw), prev in zip(convs, [1] + [c for c, _, _ in convs]))
    assert model.lstm.input_size == convs[-1][0] * rows
    assert (config.num_layers, config.hidden_size, config.time_reduction) == (3, hidden, 8)
    assert (config.input_dropout, config.dropout, config.output_dropout) == drops
    total = conv_weights + lstm_weights(convs[-1][0] * rows, hidden, 3) + (2 * hidden + 1) * 10
    assert sum(p.numel() for p in model.parameters()) == total
    x, lens = padded([40, 17], features=height)
    with torch.no_grad():
        _, out_lengths = model.eval()(x, lens)
    assert out_lengths.tolist() == [5, 3]


def test_model_presets_are_validated_and_can_be_overridden() -> None:
    config = config_from_data({"model": {"preset": "kraken", "hidden_size": 64}}, ["model.num_layers=2"]).model
    assert (config.hidden_size, config.num_layers, len(config.cnn_blocks)) == (64, 2, 4)
    for bad, key in (({"preset": "laia"}, "model.preset"),
                     ({"preset": "pylaia", "cnn_channels": [4]}, "cnn_channels"),
                     ({"cnn_blocks": [{"channels": 4}, {"chanels": 4}]}, "model.cnn_blocks[1].chanels"),
                     ({"cnn_blocks": [{"kernel": [3, 4]}]}, "kernel"),
                     ({"cnn_blocks": [{"activation": "swish"}]}, "model.cnn_blocks[0]"),
                     ({"cnn_blocks": [{"dropout": 1.0}]}, "dropout"),
                     ({"cnn_blocks": {"channels": 4}}, "model.cnn_blocks"),
                     ({"output_dropout": -0.1}, "model.output_dropout")):
        with pytest.raises(ConfigError, match=re.escape(key)):
            config_from_data({"model": bad})


def test_cnn_output_norm_centres_each_real_frame_and_keeps_items_independent() -> None:
    """``cnn_output_norm: layer``: every real output frame of the front end has mean 0 and variance 1 (the
    ReLU/max-pool outputs it replaces are all >= 0), frames past a length are zero, a batch equals its items,
    and a checkpoint of the default (no norm) has no such parameters."""
    blocks = [{"channels": 4, "kernel": 3, "height_pool": 2, "time_pool": 2, "batch_norm": True}]
    model, config = blocks_model(blocks, features=16, cnn_output_norm="layer")
    lengths = [13, 4, 9, 1]
    x, lens = padded(lengths, features=16, seed=5)
    with torch.no_grad():
        raw, _ = blocks_model(blocks, features=16)[0].eval().cnn(x, lens)
        y, out_lengths = model.eval().cnn(x, lens)  # (B, T1, 4 * 8)
    real = raw[0, : int(out_lengths[0])]
    assert float(real.min()) >= 0.0 and float(real.mean()) > 0.05  # what the norm is for: a common offset
    for b, n in enumerate(out_lengths.tolist()):
        torch.testing.assert_close(y[b, :n].mean(dim=1), torch.zeros(n), atol=1e-5, rtol=0)
        torch.testing.assert_close(y[b, :n].var(dim=1, unbiased=False), torch.ones(n), atol=1e-2, rtol=0)  # eps
        assert float(y[b, n:].abs().sum()) == 0.0
    assert_batch_equals_items(model.eval(), x, lens)
    assert not any("output_norm" in k for k in blocks_model(blocks, features=16)[0].state_dict())
    with pytest.raises(ConfigError, match="model.cnn_output_norm"):
        blocks_model(blocks, cnn_output_norm="batch")
