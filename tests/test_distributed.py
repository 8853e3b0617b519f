"""Data-parallel training on CPU with gloo: the sharded sampler, two processes against one on the
combined batch, a torchrun launch of ``seqlabel train`` end to end, and every rank stopping
together when rank 0 fails in what it alone does (checkpoints, logs, dev evaluation)."""
from __future__ import annotations

import csv
import datetime
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from seqlabel import api
from seqlabel.cli import exit_now
from seqlabel.config import config_from_data
from seqlabel.data.dataset import collate
from seqlabel.data.sampling import BucketBatchSampler
from seqlabel.errors import CheckpointError
from seqlabel.models.bilstm import build_model
from seqlabel.training.distributed import DistributedBucketSampler, on_main, shard
from seqlabel.training.loop import EpochStats, train_step
from seqlabel.training.state import build_optimizer

ROOT = Path(__file__).resolve().parents[1]
DIM, CLASSES = 5, 4
CONFIG = {"model": {"num_layers": 1, "hidden_size": 6},
          "train": {"optimizer": "sgd", "lr": 0.5, "momentum": 0.9, "grad_clip": 5.0, "weight_noise": 0.01,
                    "device": "cpu", "amp": "off"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- the sampler
def test_shards_are_disjoint_equal_and_in_the_global_order() -> None:
    sampler = BucketBatchSampler([3, 9, 4, 7, 5, 5, 8, 2, 6, 1, 4], batch_frames=12, max_batch_size=2, seed=3)
    sampler.set_epoch(2)
    batches = sampler.batches()
    shares = [shard(batches, r, 3) for r in range(3)]
    steps = len(batches) // 3
    assert all(len(s) == steps for s in shares)
    assert [shares[s % 3][s // 3] for s in range(3 * steps)] == batches[: 3 * steps]  # round robin
    spread = DistributedBucketSampler(sampler, 1, 3)
    spread.set_epoch(2)
    assert list(spread) == shares[1] and len(spread) == steps


# ----------------------------------------------------------------------------- 2 processes == 1 on the union
def make_items(step: int, rank: int) -> list[tuple[int, torch.Tensor, torch.Tensor]]:
    """Rank ``rank``'s share of global batch ``step``: 2 utterances of (T, DIM) features; at step 2,
    rank 1's utterances are CTC-infeasible (too many labels), so that rank has nothing to learn from."""
    g = torch.Generator().manual_seed(100 * step + rank)
    items = []
    for k in range(2):
        length = 6 + int(torch.randint(0, 5, (1,), generator=g))
        labels = 3 if not (step == 2 and rank == 1) else length + 2
        items.append((2 * rank + k, torch.randn(length, DIM, generator=g),
                      torch.randint(1, CLASSES, (labels,), generator=g)))
    return items


def run_steps(rank_items: list[list], steps: int) -> dict[str, torch.Tensor]:
    config = config_from_data(CONFIG)
    torch.manual_seed(0)
    model = build_model(DIM, CLASSES, config.model)
    stepper = torch.nn.parallel.DistributedDataParallel(model) if dist.is_initialized() else model
    optimizer = build_optimizer(model, config)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    for step in range(steps):
        items = rank_items[step]
        batch = collate(items, [f"u{i}" for i, _, _ in items])
        train_step(stepper, batch, optimizer, scaler, config, 0.01, EpochStats(), torch.device("cpu"))
    return {k: v.clone() for k, v in model.state_dict().items()}


def worker(rank: int, port: int, steps: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        weights = run_steps([make_items(s, rank) for s in range(steps)], steps)
        if rank == 0:
            torch.save(weights, out)
    finally:
        dist.destroy_process_group()
    exit_now(0)  # no teardown (Gloo can abort it: see seqlabel.cli.run); only after success, so an exception
    # above still fails the rank as it should


def test_two_processes_equal_one_process_on_the_combined_batch(tmp_path: Path) -> None:
    steps = 3
    out = tmp_path / "ddp.pt"
    mp.spawn(worker, args=(free_port(), steps, str(out)), nprocs=2)
    ddp = torch.load(out, weights_only=True)
    single = run_steps([make_items(s, 0) + make_items(s, 1) for s in range(steps)], steps)
    initial = run_steps([], 0)
    for key, value in single.items():
        assert not torch.equal(value, initial[key])  # it did learn: the comparison has teeth
        torch.testing.assert_close(ddp[key], value, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- torchrun end to end
def tiny_config(tmp_path: Path, extra_train: str = "") -> Path:
    """A 1 x 8 BiLSTM config on test_resume's tiny .npy corpus (train tr*.npy, dev dv*.npy -> dv.jsonl)."""
    from test_resume import TEXTS, write_npy_corpus

    train = write_npy_corpus(tmp_path, TEXTS, "tr", 0)
    dev = write_npy_corpus(tmp_path, ["abc", "ba"], "dv", 1)
    config = tmp_path / "c.yaml"
    config.write_text(f"""
data: {{train: {train}, dev: {dev}}}
features: {{type: precomputed}}
model: {{num_layers: 1, hidden_size: 8}}
train: {{max_epochs: 2, batch_frames: 40, max_batch_size: 3, progress: false, tensorboard: false,
         device: cpu, amp: "off", threads: 1, save_every_steps: 2{", " + extra_train if extra_train else ""}}}
""")
    return config


def test_torchrun_two_processes_train_and_rank_zero_writes(tmp_path: Path) -> None:
    from test_resume import TEXTS

    config = tiny_config(tmp_path, "early_stop_patience: 0")
    dev = tmp_path / "dv.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    out = tmp_path / "exp"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           f"--master_port={free_port()}", "-m", "seqlabel", "train", str(config), "--out", str(out)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "on each of 2 processes" in proc.stdout
    assert proc.stdout.count("epoch 2: train loss") == 1  # rank 0 alone speaks
    with (out / "log.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    lengths = [np.load(tmp_path / f"tr{i}.npy").shape[0] for i in range(len(TEXTS))]
    sampler = DistributedBucketSampler(BucketBatchSampler(lengths, 40, 3, seed=1), rank=0, world_size=2)
    steps = []
    for epoch in (1, 2):
        sampler.set_epoch(epoch)
        steps.append(len(sampler))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert [int(r["step"]) for r in rows] == [steps[0], steps[0] + steps[1]]  # half the batches each
    hyps = api.decode(out / "best.pt", dev, device="cpu", progress=False)
    assert [h.id for h in hyps] == ["dv0", "dv1"]


# ----------------------------------------------------------------------------- rank 0 fails alone
DISK_FULL = "cannot write checkpoint last.pt: No space left on device"


def failing_worker(rank: int, port: int, config: str, out: str) -> None:
    """Train with a process group that gives up after 20 s, rank 0's checkpoint saves failing; write
    what each rank raised, and when, to ``out/rank<r>.json``."""
    import seqlabel.training.loop

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                            timeout=datetime.timedelta(seconds=20))
    if rank == 0:
        def disk_full(path: Path, state: dict) -> Path:
            raise CheckpointError(DISK_FULL)
        seqlabel.training.loop.save_checkpoint = disk_full
    try:
        api.train(config, Path(out) / "exp", echo=lambda _: None)
        raised = {"type": None}
    except Exception as e:
        raised = {"type": type(e).__name__, "message": str(e), "at": time.time()}
    finally:
        dist.destroy_process_group()
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(raised))
    exit_now(0)


def test_a_failure_on_rank_zero_stops_every_rank_promptly_with_its_error(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    context = mp.spawn(failing_worker, args=(free_port(), str(config), str(tmp_path)), nprocs=2, join=False)
    deadline = time.time() + 90
    while not context.join(timeout=1) and time.time() < deadline:
        pass
    for process in context.processes:  # a regression must fail, not hang the suite
        if process.is_alive():
            process.kill()
    assert all(not p.is_alive() for p in context.processes)
    first, other = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert first["type"] == "CheckpointError" and first["message"] == DISK_FULL  # the original error
    assert other["type"] == "SeqlabelError", other  # not the backend's timeout or a closed connection
    assert "rank 0 failed while saving" in other["message"] and DISK_FULL in other["message"]
    # together, well before the 20 s timeout (the error type above already rules the timeout out; the
    # margin allows for a loaded 2-core machine, where a rank can lag the other by several seconds)
    assert abs(other["at"] - first["at"]) < 15


def test_on_main_runs_the_action_in_a_single_process() -> None:
    assert on_main("adding", lambda: 1 + 1) == 2
    with pytest.raises(ZeroDivisionError):
        on_main("dividing", lambda: 1 / 0)


def test_weight_noise_is_the_same_on_every_rank_whatever_dropout_drew() -> None:
    from seqlabel.training.loop import _noise_rng
    from seqlabel.training.step import weight_noise

    def noisy(global_seed: int, index: int) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = build_model(DIM, CLASSES, config_from_data(CONFIG).model)
        torch.manual_seed(global_seed)  # what dropout left in the global generator differs by rank
        with weight_noise(model, 0.1, _noise_rng(1, 2, index, torch.device("cpu"))):
            return [p.detach().clone() for p in model.parameters()]

    rank0, rank1, next_batch = noisy(5, 3), noisy(6, 3), noisy(5, 4)
    assert all(torch.equal(a, b) for a, b in zip(rank0, rank1))
    assert not all(torch.equal(a, b) for a, b in zip(rank0, next_batch))
