"""The training loop: CTC loss, SGD/Adam, clipping, weight noise, plateau schedule, early
stopping on the development error rate, ``best``/``last`` checkpoints, resume.

No argument parsing here: ``train(config, out_dir)`` is called by ``seqlabel.api`` and the CLI.
"""
from __future__ import annotations

import csv
import math
import random
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Optional

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from seqlabel import distributed
from seqlabel.checkpoint import load_checkpoint, save_checkpoint
from seqlabel.config import Config, TrainConfig, save_config, to_dict
from seqlabel.data import Split, SequenceDataset, build_augment, load_split, normalize
from seqlabel.errors import CheckpointError, ConfigError, DataError, SeqlabelError, VocabError
from seqlabel.features import build_extractor
from seqlabel.features.cmvn import CmvnStats, compute_stats
from seqlabel.decoders.greedy import greedy_search
from seqlabel.inference import amp_dtype, autocast, ctc_min_frames, forward_all, resolve_device
from seqlabel.manifest import read_manifest
from seqlabel.metrics import ScoreResult, score
from seqlabel.model import BiLSTMCTC, build_model, output_lengths
from seqlabel.sampling import BucketBatchSampler
from seqlabel.types import Batch
from seqlabel.vocab import Vocab

LOG_NAME, SKIPPED_NAME = "log.csv", "skipped.tsv"
LOG_FIELDS = ["epoch", "step", "lr", "train_loss", "dev_loss", "dev_error", "skipped_infeasible",
              "skipped_nonfinite", "epoch_seconds", "frames_per_second"]


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    epochs: int
    best_dev_error: float
    test: Optional[ScoreResult] = None


@dataclass(frozen=True)
class Skip:
    """What ``train_step`` skipped: ``ctc_infeasible`` utterances, or a whole batch whose loss
    (``nonfinite_loss``) or gradient norm (``nonfinite_grad``) was NaN or infinite."""

    reason: str
    ids: tuple[str, ...]


@dataclass
class EpochStats:
    loss_sum: float = 0.0
    utterances: int = 0
    frames: int = 0
    skipped_infeasible: int = 0
    skipped_nonfinite: int = 0
    nonfinite_run: int = 0  # consecutive non-finite batches up to now
    seconds: float = 0.0  # time spent in the epoch before a mid-epoch checkpoint (resume)

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.utterances, 1)


def train(config: Config, out_dir: str | Path, resume: bool = False,
          echo: Callable[[str], None] = print) -> TrainResult:
    """Train a BiLSTM-CTC model on ``config.data.train``; write checkpoints and logs to ``out_dir``.

    Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK set), every process trains on its share of each
    epoch's batches with DDP; rank 0 alone logs, evaluates on dev and writes checkpoints.
    """
    env = distributed.from_environment()
    device = resolve_device(config.train.device)
    if env is not None:
        if device.type == "cuda":
            device = torch.device("cuda", env.local_rank)
            torch.cuda.set_device(device)
        distributed.init(env, device)
    try:
        return _train(config, Path(out_dir), resume, echo if distributed.is_main() else _silent, device)
    finally:
        if env is not None and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _silent(_: str) -> None:
    """The echo of ranks other than 0."""


def _train(config: Config, out_dir: Path, resume: bool, echo: Callable[[str], None],
           device: torch.device) -> TrainResult:
    main, world = distributed.is_main(), distributed.world_size()
    _check_writable(out_dir)  # every rank checks what rank 0 will need, so that all stop together
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if not resume and last_path.exists():
        raise ConfigError(f"{out_dir} already holds a training run ({last_path}); pass --resume to "
                          "continue it or choose another --out")
    if resume and not last_path.exists():
        raise CheckpointError(f"--resume: no {last_path} to resume from; train without --resume")
    resumed = load_checkpoint(last_path) if resume else None
    _seed_everything(config.train.seed)
    if config.train.threads > 0:
        torch.set_num_threads(config.train.threads)
    tc = config.train

    # Data: manifests -> features (extracted once, validated up front) -> normalised datasets.
    if not config.data.train:
        raise ConfigError("data.train is not set (the training manifest)")
    train_utts = read_manifest(config.data.train)
    train_utts = _drop_long(train_utts, config.data.max_duration, echo)
    vocab = _build_vocab(config, train_utts, resumed, last_path)
    extractor = build_extractor(config.features)
    train_split = load_split(train_utts, extractor, vocab, config.data.lowercase, "train features", tc.progress)
    dev_split = None
    if config.data.dev:
        dev_split = load_split(read_manifest(config.data.dev), extractor, vocab, config.data.lowercase,
                               "dev features", tc.progress)
    cmvn = None
    if config.features.cmvn == "global":
        cmvn = (CmvnStats.from_state(resumed["cmvn"]) if resumed else compute_stats(train_split.features))
    train_set = SequenceDataset(train_split, normalize(train_split, config.features.cmvn, cmvn),
                                build_augment(extractor, config.features.cmvn, cmvn), tc.seed)
    dev_feats = normalize(dev_split, config.features.cmvn, cmvn) if dev_split else None
    input_dim = train_set.features[0].shape[1]
    echo(f"train: {len(train_set)} utterances, {sum(train_split.lengths)} frames, {input_dim}-dim features, "
         f"{len(vocab)} classes (blank included); dev: {len(dev_split.utterances) if dev_split else 0} utterances")

    # Model and optimisation.
    model = build_model(input_dim, len(vocab), config.model).to(device)
    optimizer = _build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=tc.lr_factor, patience=tc.lr_patience, min_lr=tc.min_lr)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype(device, tc.amp) == torch.float16)
    sampler = BucketBatchSampler(train_split.lengths, tc.batch_frames, tc.max_batch_size, True, tc.seed)
    stepper: torch.nn.Module = model
    if world > 1:
        sampler = distributed.DistributedBucketSampler(sampler, distributed.rank(), world)
        stepper = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    echo(f"model: {sum(p.numel() for p in model.parameters()):,} parameters; device {device}; "
         f"{len(sampler)} batches per epoch" + (f" on each of {world} processes" if world > 1 else ""))
    _check_space(out_dir, model, config)

    state = {"epoch": 0, "step": 0, "best": math.inf, "bad_epochs": 0, "batch": 0, "stats": {}, "files": {}}
    if resumed:
        state = _restore(resumed, last_path, model, optimizer, scheduler, scaler)
        if main:
            _truncate_logs(out_dir, state["files"])
        where = f"batch {state['batch']} of epoch {state['epoch'] + 1}" if state["batch"] else f"epoch {state['epoch']}"
        echo(f"resumed from {last_path} after {where}")
    elif main:
        save_config(config, out_dir / "config.yaml")
        vocab.save(out_dir / "tokens.txt")

    common = {"config": to_dict(config), "vocab": vocab.state(), "input_dim": input_dim,
              "cmvn": cmvn.state() if cmvn else None}

    def checkpoint() -> dict:
        state["files"] = {name: _size(out_dir / name) for name in (LOG_NAME, SKIPPED_NAME)}
        return {**common, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "progress": dict(state),
                "rng": _rng_state()}

    writer = _tensorboard(out_dir, tc.tensorboard and main, echo)
    for epoch in range(state["epoch"] + 1, tc.max_epochs + 1):
        if tc.early_stop_patience > 0 and state["bad_epochs"] >= tc.early_stop_patience:
            echo(f"early stop: no dev improvement for {state['bad_epochs']} epoch(s)")
            break
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        batches = sampler.batches()
        done = state["batch"]  # > 0 only when resuming inside this epoch: those batches are skipped
        stats = _rank_share(EpochStats(**state["stats"]), main) if done else EpochStats()
        started = time.time() - stats.seconds
        # Its own generator: a DataLoader iterator draws a base seed, which must not move the global
        # torch RNG (weight noise, dropout) differently in a resumed epoch.
        loader = DataLoader(train_set, batch_sampler=batches[done:], collate_fn=train_set.collate,
                            num_workers=tc.num_workers, pin_memory=device.type == "cuda",
                            generator=torch.Generator().manual_seed(tc.seed * 1_000_003 + epoch))
        noise = tc.weight_noise if epoch >= tc.weight_noise_start_epoch else 0.0
        bar = tqdm(loader, desc=f"epoch {epoch}", initial=done, total=len(batches), disable=not (tc.progress and main),
                   leave=False)
        for index, batch in enumerate(bar, done + 1):
            steps, skips = train_step(stepper, batch.to(device), optimizer, scaler, config, noise, stats, device)
            state["step"] += steps
            skips = distributed.gather(skips) if world > 1 else skips
            if main:
                _report_skips(out_dir / SKIPPED_NAME, epoch, index, skips, echo)
            _check_nonfinite(stats, tc, epoch, index, len(batches), skips, out_dir)
            bar.set_postfix(loss=f"{stats.loss:.3f}")
            if tc.save_every_steps and index % tc.save_every_steps == 0 and index < len(batches):
                stats.seconds = time.time() - started
                state.update(batch=index, stats=asdict(_reduced(stats)))
                if main:
                    save_checkpoint(last_path, checkpoint())
        seconds = time.time() - started
        state.update(batch=0, stats={})
        stats = _reduced(stats)
        if stats.skipped_infeasible or stats.skipped_nonfinite:
            echo(f"epoch {epoch}: skipped {stats.skipped_infeasible} utterance(s) whose transcript is too long "
                 f"for their output frames (CTC-infeasible) and {stats.skipped_nonfinite} non-finite batch(es) "
                 f"(ids in {out_dir / SKIPPED_NAME})")
        if stats.utterances == 0:
            raise DataError(f"no training utterance could be used in epoch {epoch} (all CTC-infeasible or non-finite, "
                            f"ids in {out_dir / SKIPPED_NAME}); reduce model.subsampling or check the transcripts")
        dev_loss, dev_error = math.nan, math.nan
        if dev_split is not None:
            if main:
                dev_loss, result = evaluate_split(model, dev_split, dev_feats, vocab, device, config)
                dev_error = result.total.rate
            dev_loss, dev_error = distributed.all_sum([dev_loss, dev_error] if main else [0.0, 0.0])
        metric = dev_error if dev_split is not None else stats.loss
        scheduler.step(metric)
        improved = metric < state["best"]
        state.update(epoch=epoch, best=min(metric, state["best"]), bad_epochs=0 if improved else state["bad_epochs"] + 1)
        row = {"epoch": epoch, "step": state["step"], "lr": optimizer.param_groups[0]["lr"],
               "train_loss": round(stats.loss, 4), "dev_loss": round(dev_loss, 4), "dev_error": round(dev_error, 5),
               "skipped_infeasible": stats.skipped_infeasible, "skipped_nonfinite": stats.skipped_nonfinite,
               "epoch_seconds": round(seconds, 2), "frames_per_second": round(stats.frames / max(seconds, 1e-9))}
        if main:
            _log_row(out_dir / LOG_NAME, row, writer)
        echo(f"epoch {epoch}: train loss {stats.loss:.3f}, dev loss {dev_loss:.3f}, dev error {100 * dev_error:.2f}%, "
             f"lr {row['lr']:.2e}, {seconds:.0f}s" + (" (best)" if improved else ""))
        if main:
            saved = checkpoint()
            if improved:
                save_checkpoint(best_path, saved)
            save_checkpoint(last_path, saved)
    if writer is not None:
        writer.close()
    if main and not best_path.exists():
        raise CheckpointError(f"training finished without a best checkpoint in {out_dir}")
    return TrainResult(out_dir, best_path, last_path, state["epoch"], state["best"])


def train_step(model: torch.nn.Module, batch: Batch, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               config: Config, noise: float, stats: EpochStats, device: torch.device) -> tuple[int, list[Skip]]:
    """One optimisation step on the CTC-feasible part of ``batch``.

    ``model`` may be DDP-wrapped: then this rank's batch is one share of a global batch, the loss
    is scaled so that DDP's gradient average equals the gradient of (CTC loss summed over the
    global batch) / (its feasible utterances), exactly as one process on the combined batch, and
    every rank takes or skips the step together. Returns the number of steps taken (0 or 1) and
    what this rank skipped, with utterance ids.
    """
    skips: list[Skip] = []
    out_lengths = output_lengths(batch.feature_lengths, config.model.time_reduction)
    feasible = ctc_min_frames(batch.targets, batch.target_lengths) <= out_lengths
    n_bad = int((~feasible).sum())
    whole = batch
    if n_bad:
        stats.skipped_infeasible += n_bad
        skips.append(Skip("ctc_infeasible", tuple(i for i, ok in zip(batch.ids, feasible.tolist()) if not ok)))
        keep = feasible.nonzero().squeeze(1)
        batch = Batch(batch.features[keep], batch.feature_lengths[keep], batch.targets[keep],
                      batch.target_lengths[keep], [batch.ids[i] for i in keep.tolist()])
    world = distributed.world_size()
    (total,) = distributed.all_sum([len(batch)])  # feasible utterances in the global batch
    if total == 0:
        return 0, skips
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with weight_noise(model, noise):
        with autocast(device, config.train.amp):
            # A rank left with no feasible utterance still runs forward and backward (zero loss) for DDP.
            inputs = batch if len(batch) else whole
            log_probs, out_lengths = model(inputs.features, inputs.feature_lengths)
        if len(batch):
            loss_sum = torch.nn.functional.ctc_loss(
                log_probs.float().transpose(0, 1),  # (T', B, C) as ctc_loss wants
                batch.targets, out_lengths, batch.target_lengths, blank=0, reduction="sum")
        else:
            loss_sum = log_probs.float().sum() * 0.0
        loss = loss_sum / (total / world)
        bad = not torch.isfinite(loss)
        if distributed.all_sum([float(bad)])[0] > 0:  # every rank skips when one has a non-finite loss
            skip = _nonfinite(stats, "nonfinite_loss", batch.ids)
            return 0, skips + ([skip] if bad else [])
        scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    if config.train.grad_clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        if not torch.isfinite(norm):
            optimizer.zero_grad(set_to_none=True)
            scaler.update()
            return 0, skips + [_nonfinite(stats, "nonfinite_grad", batch.ids)]
    scaler.step(optimizer)
    scaler.update()
    stats.loss_sum += float(loss_sum.detach())
    stats.utterances += len(batch)
    stats.frames += int(batch.feature_lengths.sum())
    stats.nonfinite_run = 0
    return 1, skips


def _reduced(stats: EpochStats) -> EpochStats:
    """The epoch's totals over all ranks (the non-finite counts are global already: ranks skip together)."""
    if distributed.world_size() == 1:
        return stats
    loss_sum, utterances, frames, infeasible = distributed.all_sum(
        [stats.loss_sum, stats.utterances, stats.frames, stats.skipped_infeasible])
    return replace(stats, loss_sum=loss_sum, utterances=int(utterances), frames=int(frames),
                   skipped_infeasible=int(infeasible))


def _rank_share(saved: EpochStats, main: bool) -> EpochStats:
    """This rank's part of the totals a mid-epoch checkpoint holds: rank 0 carries them on, the
    others start from zero (but for the global non-finite counters)."""
    if main:
        return saved
    return EpochStats(skipped_nonfinite=saved.skipped_nonfinite, nonfinite_run=saved.nonfinite_run,
                      seconds=saved.seconds)


def _nonfinite(stats: EpochStats, reason: str, ids: list[str]) -> Skip:
    stats.skipped_nonfinite += 1
    stats.nonfinite_run += 1
    return Skip(reason, tuple(ids))


def _report_skips(path: Path, epoch: int, index: int, skips: list[Skip], echo: Callable[[str], None]) -> None:
    """Append the skips of batch ``index`` to ``skipped.tsv``; echo the non-finite ones (infeasible
    utterances are summed up at the end of the epoch)."""
    if not skips:
        return
    new = not path.exists()
    with path.open("a", encoding="utf-8") as f:
        if new:
            f.write("epoch\tbatch\treason\tids\n")
        for skip in skips:
            f.write(f"{epoch}\t{index}\t{skip.reason}\t{','.join(skip.ids)}\n")
    for skip in skips:
        if skip.reason != "ctc_infeasible":
            echo(f"epoch {epoch}, batch {index}: {skip.reason.replace('_', ' ')}, step skipped; "
                 f"utterances: {', '.join(skip.ids)}")


def _check_nonfinite(stats: EpochStats, tc: TrainConfig, epoch: int, index: int, n_batches: int,
                     skips: list[Skip], out_dir: Path) -> None:
    """Stop when non-finite batches persist: ``max_nonfinite_steps`` in a row, or more than
    ``max_nonfinite_fraction`` of the epoch's batches."""
    consecutive = tc.max_nonfinite_steps > 0 and stats.nonfinite_run >= tc.max_nonfinite_steps
    too_many = stats.skipped_nonfinite > tc.max_nonfinite_fraction * n_batches
    if not (consecutive or too_many):
        return
    why = (f"{stats.nonfinite_run} consecutive batches (train.max_nonfinite_steps={tc.max_nonfinite_steps})"
           if consecutive else f"{stats.skipped_nonfinite} of the {n_batches} batches of the epoch "
           f"(train.max_nonfinite_fraction={tc.max_nonfinite_fraction})")
    last = next((s for s in reversed(skips) if s.reason != "ctc_infeasible"), None)
    raise SeqlabelError(
        f"training stopped at epoch {epoch}, batch {index}: non-finite loss or gradient in {why}; last batch: "
        f"{', '.join(last.ids) if last else '?'} (all listed in {out_dir / SKIPPED_NAME}). Lower train.lr, set "
        f"train.grad_clip, or check those utterances' features and transcripts; then train again or --resume "
        f"from {out_dir / 'last.pt'}")


def _restore(resumed: dict, path: Path, model: BiLSTMCTC, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau, scaler: torch.amp.GradScaler) -> dict:
    """Load a ``last.pt`` into the training objects; returns its progress state."""
    try:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        if "scaler" in resumed:
            scaler.load_state_dict(resumed["scaler"])
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"--resume: {path} does not match this config (model shape or optimizer "
                              f"changed?): {str(e).splitlines()[0]}") from None
    _set_rng_state(resumed["rng"])
    return {"batch": 0, "stats": {}, "files": {}, **resumed["progress"]}


def _rng_state() -> dict:
    """Every random state the loop draws from: torch (weight noise, dropout), CUDA, Python's ``random``.
    (Batch order and augmentation are seeded by (seed, epoch[, item]) and need no state.)"""
    version, internal, gauss = random.getstate()
    return {"torch": torch.get_rng_state(), "python": [version, list(internal), gauss],
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(rng: dict | torch.Tensor) -> None:
    if isinstance(rng, torch.Tensor):  # checkpoints from before step-level resume: torch's state only
        torch.set_rng_state(rng)
        return
    torch.set_rng_state(rng["torch"])
    version, internal, gauss = rng["python"]
    random.setstate((version, tuple(internal), gauss))
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _truncate_logs(out_dir: Path, sizes: dict[str, int]) -> None:
    """Cut log files back to their size when the checkpoint was written, so rows written after it
    (by a run that was then killed) are not duplicated when the resumed run writes them again."""
    for name, size in sizes.items():
        path = out_dir / name
        if _size(path) > size:
            with path.open("r+b") as f:
                f.truncate(size)


@contextmanager
def weight_noise(model: torch.nn.Module, std: float) -> Iterator[None]:
    """Add Gaussian noise N(0, std^2) to every weight for one forward/backward pass (Graves 2013).

    Gradients are taken at the noisy weights; the clean weights are restored exactly afterwards.
    """
    if std <= 0:
        yield
        return
    params = [p for p in model.parameters() if p.requires_grad]
    clean = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn_like(p) * std)
    try:
        yield
    finally:
        with torch.no_grad():
            for p, c in zip(params, clean):
                p.copy_(c)


@torch.no_grad()
def evaluate_split(model: BiLSTMCTC, split: Split, features: list[torch.Tensor], vocab: Vocab,
                   device: torch.device, config: Config) -> tuple[float, ScoreResult]:
    """One forward pass over ``split``: mean CTC loss per (feasible) utterance and the greedy error rate."""
    total, count = 0.0, 0
    hyps: dict[str, list[str]] = {}
    for indices, log_probs, out_lengths in forward_all(model, features, device, config.train.batch_frames * 2,
                                                       config.train.max_batch_size * 2, config.train.amp):
        targets = [torch.tensor(split.targets[i], dtype=torch.long) for i in indices]
        target_lengths = torch.tensor([t.numel() for t in targets], dtype=torch.long)
        losses = torch.nn.functional.ctc_loss(
            log_probs.transpose(0, 1),  # (T', B, C)
            torch.nn.utils.rnn.pad_sequence(targets, batch_first=True), out_lengths, target_lengths,
            blank=0, reduction="none")
        ok = torch.isfinite(losses)
        total += float(losses[ok].sum())
        count += int(ok.sum())
        for i, (ids, _) in zip(indices, greedy_search(log_probs, out_lengths)):
            hyps[split.utterances[i].id] = vocab.decode(ids)
    refs = {u.id: vocab.decode(t) for u, t in zip(split.utterances, split.targets)}
    return total / max(count, 1), score(refs, hyps, config.data.unit, word_boundary=config.data.word_boundary)


def _build_vocab(config: Config, train_utts: list, resumed: Optional[dict], resumed_path: Path) -> Vocab:
    given = Vocab.load(config.data.vocab, config.data.unit, config.data.word_boundary) if config.data.vocab else None
    if resumed is not None:
        vocab = Vocab.from_state(resumed["vocab"])
        if given is not None and given != vocab:
            raise CheckpointError(f"--resume: {resumed_path} was trained with another vocabulary ({len(vocab)} classes, "
                                  f"unit {vocab.unit}) than data.vocab {config.data.vocab} ({len(given)} classes, unit "
                                  f"{given.unit}); resume with the run's own tokens.txt or train into a new --out")
        return vocab
    if given is not None:
        return given
    texts = [u.text.lower() if config.data.lowercase else u.text for u in train_utts]
    probe = Vocab([], config.data.unit, config.data.word_boundary)
    for utt, text in zip(train_utts, texts):
        try:
            probe.tokenize(text)
        except VocabError as e:
            raise VocabError(f"utterance {utt.id!r}: {e}") from None
    return Vocab.build(texts, config.data.unit, config.data.word_boundary)


def _build_optimizer(model: torch.nn.Module, config: Config) -> torch.optim.Optimizer:
    tc = config.train
    if tc.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)


def _drop_long(utts: list, max_duration: Optional[float], echo: Callable[[str], None]) -> list:
    if max_duration is None:
        return utts
    kept = [u for u in utts if u.duration is None or u.duration <= max_duration]
    if len(kept) < len(utts):
        echo(f"dropped {len(utts) - len(kept)} training utterance(s) longer than {max_duration}s (data.max_duration)")
    return kept


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _check_space(out_dir: Path, model: torch.nn.Module, config: Config) -> None:
    """Refuse to start when the disk cannot hold best.pt, last.pt and a temporary copy: each about
    the weights plus the optimizer's per-weight state (two moments for Adam, momentum for SGD)."""
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    copies = 3 if config.train.optimizer == "adam" else 2
    size = weights * copies + (1 << 20)  # + configs, vocabulary, CMVN statistics
    need = 3 * size - _size(out_dir / "best.pt") - _size(out_dir / "last.pt")
    free = shutil.disk_usage(out_dir).free
    if free < need:
        raise ConfigError(f"not enough free disk space in {out_dir}: {free / 1e6:.1f} MB free, checkpoints need "
                          f"about {need / 1e6:.1f} MB (best.pt, last.pt and a temporary copy); free some space "
                          "or choose another --out")


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{distributed.rank()}"
        probe.write_bytes(b"0" * 4096)
        probe.unlink()
    except OSError as e:
        raise ConfigError(f"output directory {out_dir} is not writable: {e.strerror}") from None


def _tensorboard(out_dir: Path, enabled: bool, echo: Callable[[str], None]):
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        echo("tensorboard is not installed; logging to log.csv only (pip install tensorboard)")
        return None
    return SummaryWriter(str(out_dir / "tensorboard"))


def _log_row(path: Path, row: dict, writer) -> None:
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=LOG_FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
    if writer is not None:
        for key in ("lr", "train_loss", "dev_loss", "dev_error"):
            if not (isinstance(row[key], float) and math.isnan(row[key])):
                writer.add_scalar(key, row[key], row["epoch"])
        writer.flush()
