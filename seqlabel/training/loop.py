"""The training loop: CTC loss, SGD/Adam, clipping, weight noise, plateau schedule, early
stopping on the development error rate, ``best``/``last`` checkpoints, resume.

Weight noise follows ``train.weight_noise_phase``: ``epoch`` adds it from a fixed epoch on;
``restart`` trains as Graves, Mohamed & Hinton (2013): phase 1 without noise, early-stopped on the
dev CTC loss (highest log-probability), its best point kept as ``phase1.pt``; phase 2 restarts from
``phase1.pt`` with noise, early-stopped on the dev error rate, its best point kept as ``best.pt``.

No argument parsing here: ``train(config, out_dir)`` is called by ``seqlabel.api`` and the CLI.
The data setup is in ``training.data``, one optimisation step in ``training.step``, the log and skip
bookkeeping in ``training.log``, the checkpointed state in ``training.state``, the dev evaluation in
``training.dev``, the run folder's lock in ``training.lock`` and a resumed run's config in ``training.resume``.
"""
from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

import torch
from torch.utils.data import DataLoader

from seqlabel.config import Config, save_config, to_dict
from seqlabel.data.sampling import BucketBatchSampler
from seqlabel.errors import CheckpointError, DataError
from seqlabel.models.bilstm import BiLSTMCTC, build_model
from seqlabel.models.checkpoint import copy_checkpoint, load_checkpoint, save_checkpoint, serialize, write_checkpoint
from seqlabel.progress import progress as progress_bar
from seqlabel.runtime import amp_dtype, resolve_device
from seqlabel.scoring.metrics import ScoreResult
from seqlabel.training import distributed
from seqlabel.training.averaging import EpochWeights
from seqlabel.training.checks import check_run, check_space
from seqlabel.training.data import TrainData, load_data
from seqlabel.training.dev import evaluate_split
from seqlabel.training.finetune import FreezeSchedule, init_weights
from seqlabel.training.folder import RunFolder
from seqlabel.training.lock import RunLock, check_out_dir
from seqlabel.training.log import (
    LOG_NAME,
    SKIPPED_NAME,
    EpochStats,
    check_log,
    check_nonfinite,
    log_row,
    log_sizes,
    rank_share,
    reduced,
    report_skips,
    tensorboard,
    truncate_logs,
)
from seqlabel.training.resume import CONFIG_NAME, write_overrides
from seqlabel.training.schedule import NoiseSchedule
from seqlabel.training.state import Learner, Progress, all_rng_states, build_optimizer, build_scheduler, pack, restore
from seqlabel.training.step import train_step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    best_checkpoint: Path  # the model to use: best.pt, or avg.pt when its dev error is lower (train.average_last)
    last_checkpoint: Path
    epochs: int
    best_dev_error: float  # NaN without a dev set
    test: Optional[ScoreResult] = None
    best_train_loss: Optional[float] = None  # without a dev set: best.pt is the epoch of lowest training loss


@dataclass(frozen=True)
class Run:
    """What stays fixed through a run: its config, folder, data, batches and output channels."""

    config: Config
    out_dir: Path
    data: TrainData
    sampler: BucketBatchSampler | distributed.DistributedBucketSampler
    common: dict  # checkpoint entries besides the training state: configs, vocabulary, CMVN
    writer: object  # a TensorBoard SummaryWriter, or None
    device: torch.device
    overrides: tuple[str, ...] = ()  # the -o overrides a new run started with, recorded for --resume
    averaging: Optional[EpochWeights] = None  # train.average_last: the epochs' weights kept for avg.pt

    @property
    def last_path(self) -> Path:
        return RunFolder(self.out_dir).last

    @property
    def schedule(self) -> NoiseSchedule:
        return NoiseSchedule(self.config.train)


def train(config: Config, out_dir: str | Path, resume: bool = False,
          overrides: Sequence[str] = ()) -> TrainResult:
    """Train a BiLSTM-CTC model on ``config.data.train``; write checkpoints and logs to ``out_dir``,
    which ``run.lock`` keeps to this run alone (``training.lock``). ``overrides``: the ``-o`` overrides
    ``config`` was made with, recorded in the run folder (``training.resume``).

    Under torchrun (RANK / WORLD_SIZE / LOCAL_RANK set), every process trains on its share of each
    epoch's batches with DDP; rank 0 alone logs, evaluates on dev and writes checkpoints.
    """
    out_dir = check_out_dir(out_dir)
    env = distributed.from_environment()
    device = resolve_device(config.train.device)
    if env is not None:
        if device.type == "cuda":
            device = torch.device("cuda", env.local_rank)
            torch.cuda.set_device(device)
        distributed.init(env, device)
    lock = RunLock(out_dir)
    try:
        distributed.on_main(f"locking {out_dir}", lock.acquire)  # the other ranks wait for rank 0's lock
        result = _train(config, out_dir, resume, device,
                        tuple(overrides))
        return result
    finally:
        lock.release()  # nothing to release on ranks other than 0
        if env is not None and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(config: Config, out_dir: Path, resume: bool,
           device: torch.device, overrides: tuple[str, ...]) -> TrainResult:
    check_run(config, out_dir, resume)
    averaging = EpochWeights.of(out_dir, config)
    last_path = RunFolder(out_dir).last
    resumed = load_checkpoint(last_path) if resume else None
    _seed_everything(config.train.seed)
    if config.train.threads > 0:
        torch.set_num_threads(config.train.threads)
    data = load_data(config, resumed, last_path)
    learner, sampler = _build_learner(config, data, device)
    init_weights(learner.model, data.init, data.vocab)  # fine-tuning: the weights of train.init_from
    log.info(f"model: {sum(p.numel() for p in learner.model.parameters()):,} parameters; device {device}; "
         f"{len(sampler)} batches per epoch" + (f" on each of {distributed.world_size()} processes"
                                                if distributed.world_size() > 1 else ""))
    check_space(out_dir, learner.model, config)
    common = {"config": to_dict(config), "vocab": data.vocab.state(), "input_dim": data.input_dim,
              "cmvn": data.cmvn.state() if data.cmvn else None, "init_from": data.init_record,
              "data": data.fingerprint}
    first_epoch = Progress.from_state(resumed["progress"]).epoch + 1 if resumed else 1
    writer = distributed.on_main("opening TensorBoard's log",
                                 lambda: tensorboard(out_dir, config.train.tensorboard, first_epoch))
    run = Run(config, out_dir, data, sampler, common, writer, device, overrides, averaging)
    progress = _start(run, learner, resumed)
    if averaging is not None:
        distributed.on_main(f"cleaning {averaging.folder}", lambda: averaging.start(progress.epoch))
    _run_epochs(run, learner, progress)
    if writer is not None:
        writer.close()
    return _finish(run, progress)


def _build_learner(config: Config, data: TrainData, device: torch.device
                   ) -> tuple[Learner, BucketBatchSampler | distributed.DistributedBucketSampler]:
    """The model, its optimizer, schedule and loss scaler, and the batch sampler (DDP-wrapped under torchrun)."""
    tc = config.train
    _seed_everything(tc.seed)  # the same initial weights whatever extraction drew (dither; cache hits draw nothing)
    model = build_model(data.input_dim, len(data.vocab), config.model).to(device)
    optimizer = build_optimizer(model, config)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype(device, tc.amp) == torch.float16)
    sampler = BucketBatchSampler(data.train_set.lengths, tc.batch_frames, tc.max_batch_size, True, tc.seed,
                                 data.train_set.lengths_at)
    stepper: torch.nn.Module = model
    world = distributed.world_size()
    if world > 1:
        sampler = distributed.DistributedBucketSampler(sampler, distributed.rank(), world)
        stepper = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    return Learner(model, stepper, optimizer, build_scheduler(optimizer, tc), scaler), sampler


def _start(run: Run, learner: Learner, resumed: Optional[dict]) -> Progress:
    """A new run writes its config and vocabulary; a resumed one restores its state and logs."""
    if resumed is None:
        distributed.on_main(f"writing config.yaml and tokens.txt in {run.out_dir}", lambda: _write_run_files(run))
        return Progress(world_size=distributed.world_size())
    progress = restore(resumed, run.last_path, learner)
    if progress.batch and progress.world_size != distributed.world_size():
        raise CheckpointError(f"--resume: {run.last_path} was saved in the middle of epoch {progress.epoch + 1} by "
                              f"{progress.world_size} process(es); resume it with that many (torchrun "
                              f"--nproc_per_node={progress.world_size}) or from an epoch-end checkpoint")
    progress.world_size = distributed.world_size()
    check_log(run.out_dir / LOG_NAME)  # before truncation (which keeps it) and before any epoch
    distributed.on_main(f"cutting the logs in {run.out_dir} back to {run.last_path}",
                        lambda: truncate_logs(run.out_dir, progress.files))
    distributed.on_main(f"writing {run.out_dir / CONFIG_NAME}",  # with what resume changed (safe keys)
                        lambda: save_config(run.config, run.out_dir / CONFIG_NAME))
    where = f"batch {progress.batch} of epoch {progress.epoch + 1}" if progress.batch else f"epoch {progress.epoch}"
    log.info(f"resumed from {run.last_path} after {where}" + (f" (phase {progress.phase})" if run.schedule.restart else ""))
    return progress


def _write_run_files(run: Run) -> None:
    save_config(run.config, run.out_dir / CONFIG_NAME)
    write_overrides(run.out_dir, run.overrides)
    run.data.vocab.save(run.out_dir / "tokens.txt")


def _run_epochs(run: Run, learner: Learner, progress: Progress) -> None:
    """Epochs up to ``train.max_epochs``, both phases together, until early stopping."""
    tc, freezing = run.config.train, FreezeSchedule(run.config.train)
    for epoch in range(progress.epoch + 1, tc.max_epochs + 1):
        if tc.early_stop_patience > 0 and progress.bad_epochs >= tc.early_stop_patience:
            if not run.schedule.switches_on_patience(progress):
                log.info(f"early stop: no dev improvement for {progress.bad_epochs} epoch(s)")
                break
            _start_phase2(run, learner, progress)
        freezing.on_epoch_start(epoch, learner)
        stats, seconds = _train_epoch(run, learner, progress, epoch)
        dev_loss, dev_error = _evaluate_dev(run, learner.model)
        improved = _end_epoch(run, learner, progress, epoch, _metric(run, progress, stats, dev_loss, dev_error))
        if improved:
            progress.best_error = dev_error
        row = {"epoch": epoch, "phase": progress.phase, "step": progress.step,
               "lr": learner.optimizer.param_groups[0]["lr"], "train_loss": round(stats.loss, 4),
               "dev_loss": round(dev_loss, 4), "dev_error": round(dev_error, 5),
               "skipped_infeasible": stats.skipped_infeasible, "skipped_nonfinite": stats.skipped_nonfinite,
               "epoch_seconds": round(seconds, 2), "frames_per_second": round(stats.frames / max(seconds, 1e-9))}
        dev = f"dev loss {dev_loss:.3f}, dev error {100 * dev_error:.2f}%" if run.data.dev_split else "no dev set"
        log.info(f"epoch {epoch}: train loss {stats.loss:.3f}, {dev}, lr {row['lr']:.2e}, {seconds:.0f}s"
                 + (" (best)" if improved else ""))
        rngs = all_rng_states()
        distributed.on_main(f"writing epoch {epoch}'s log row and checkpoints in {run.out_dir}",
                            lambda: _write_epoch(run, learner, progress, row, improved, rngs))


def _start_phase2(run: Run, learner: Learner, progress: Progress) -> None:
    """Phase 1's patience on the dev loss ran out: reload ``phase1.pt``'s weights and train on with noise.

    The optimizer and the plateau schedule start afresh. The momentum (Adam's moments) in memory
    belongs to the epochs after phase1.pt that no longer improved, and both it and phase1.pt's were
    gathered on noise-free gradients; the schedule's best value and patience measured the dev loss,
    while phase 2 follows the dev error. So phase 2 begins at train.lr, as a retraining from that point.
    """
    tc = run.config.train
    phase1 = RunFolder(run.out_dir).phase1  # every rank reads it: rank 0 wrote it at least one epoch ago
    learner.model.load_state_dict(load_checkpoint(phase1)["model"])
    learner.optimizer = build_optimizer(learner.model, run.config)
    learner.scheduler = build_scheduler(learner.optimizer, tc)
    log.info(f"phase 1 ended at epoch {progress.epoch}: no lower dev loss for {progress.bad_epochs} epoch(s); "
             f"phase 2 restarts from {phase1} (epoch {progress.epoch - progress.bad_epochs}) with weight noise "
             f"{tc.weight_noise}")
    run.schedule.start_phase2(progress)


def _noise_rng(seed: int, epoch: int, index: int, device: torch.device) -> torch.Generator:
    """The weight noise of batch ``index`` of ``epoch``: the same on every rank (DDP replicas stay one
    model), independent of dropout's draws, and recomputed exactly on resume."""
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + epoch) * 1_000_003 + index)


def _train_epoch(run: Run, learner: Learner, progress: Progress, epoch: int) -> tuple[EpochStats, float]:
    """One pass over the training batches (the rest of it when resuming inside the epoch), with step
    checkpoints every ``save_every_steps`` batches; returns the totals over all ranks and the seconds."""
    tc, main = run.config.train, distributed.is_main()
    run.sampler.set_epoch(epoch)
    run.data.train_set.set_epoch(epoch)
    batches = run.sampler.batches()
    done = progress.batch  # > 0 only when resuming inside this epoch: those batches are skipped
    stats = rank_share(progress.stats, main) if done and progress.stats else EpochStats()
    started = time.time() - stats.seconds
    # Its own generator: a DataLoader iterator draws a base seed, which must not move the global
    # torch RNG (weight noise, dropout) differently in a resumed epoch.
    loader = DataLoader(run.data.train_set, batch_sampler=batches[done:], collate_fn=run.data.train_set.collate,
                        num_workers=tc.num_workers, pin_memory=run.device.type == "cuda",
                        generator=torch.Generator().manual_seed(tc.seed * 1_000_003 + epoch))
    noise = run.schedule.noise(progress.phase, epoch)
    bar = progress_bar(loader, desc=f"epoch {epoch}", total=len(batches), initial=done, unit="batches",
                       enabled=tc.progress and main)
    for index, batch in enumerate(bar, done + 1):
        steps, skips = train_step(learner.stepper, batch.to(run.device), learner.optimizer, learner.scaler,
                                  run.config, noise, stats, run.device, _noise_rng(tc.seed, epoch, index, run.device))
        progress.step += steps
        skips = distributed.gather(skips) if distributed.world_size() > 1 else skips
        if skips:  # the same on every rank: gathered
            distributed.on_main(f"writing {run.out_dir / SKIPPED_NAME}",
                                lambda: report_skips(run.out_dir / SKIPPED_NAME, epoch, index, skips))
        check_nonfinite(stats, tc, epoch, index, len(batches), skips, run.out_dir)
        bar.set_postfix(loss=f"{stats.loss:.3f}")
        if tc.save_every_steps and index % tc.save_every_steps == 0 and index < len(batches):
            stats.seconds = time.time() - started
            progress.batch, progress.stats = index, replace(reduced(stats))
            rngs = all_rng_states()
            distributed.on_main(f"saving {run.last_path}",
                                lambda: save_checkpoint(run.last_path, _checkpoint(run, learner, progress, rngs)))
    seconds = time.time() - started
    progress.batch, progress.stats = 0, None
    stats = reduced(stats)
    _check_epoch(run, stats, epoch)
    return stats, seconds


def _check_epoch(run: Run, stats: EpochStats, epoch: int) -> None:
    """Sum up the epoch's skipped utterances; refuse an epoch that could use none."""
    if stats.skipped_infeasible or stats.skipped_nonfinite:
        log.info(f"epoch {epoch}: skipped {stats.skipped_infeasible} utterance(s) whose transcript is too long "
                 f"for their output frames (CTC-infeasible) and {stats.skipped_nonfinite} non-finite batch(es) "
                 f"(ids in {run.out_dir / SKIPPED_NAME})")
    if stats.utterances == 0:
        raise DataError(f"no training utterance could be used in epoch {epoch} (all CTC-infeasible or non-finite, "
                        f"ids in {run.out_dir / SKIPPED_NAME}); reduce model.subsampling or check the transcripts")


def _evaluate_dev(run: Run, model: BiLSTMCTC) -> tuple[float, float]:
    """Dev loss and error rate (NaN without a dev set), evaluated by rank 0 and shared with all ranks."""
    if run.data.dev_split is None:
        return math.nan, math.nan
    evaluated = distributed.on_main("evaluating on the dev set", lambda: evaluate_split(
        model, run.data.dev_split, run.data.dev_feats, run.data.vocab, run.device, run.config))
    dev_loss, dev_error = (evaluated[0], evaluated[1].total.rate) if evaluated else (0.0, 0.0)
    dev_loss, dev_error = distributed.all_sum([dev_loss, dev_error])
    return dev_loss, dev_error


def _metric(run: Run, progress: Progress, stats: EpochStats, dev_loss: float, dev_error: float) -> float:
    """What the current phase minimises (``NoiseSchedule.metric``); the training loss without a dev set."""
    if run.data.dev_split is None:
        return stats.loss
    return run.schedule.metric(progress, dev_loss, dev_error)


def _end_epoch(run: Run, learner: Learner, progress: Progress, epoch: int, metric: float) -> bool:
    """Step the plateau schedule on the phase's metric and count epochs without improvement;
    returns whether the epoch improved on the phase's best."""
    learner.scheduler.step(metric)
    improved = metric < progress.best
    progress.epoch, progress.best = epoch, min(metric, progress.best)
    progress.bad_epochs = 0 if improved else progress.bad_epochs + 1
    return improved


def _checkpoint(run: Run, learner: Learner, progress: Progress, rngs: list[dict]) -> dict:
    """Rank 0's checkpoint, with ``rngs``: every rank's random state (``all_rng_states``)."""
    progress.files = log_sizes(run.out_dir)
    return pack(run.common, learner, progress, rngs)


def _write_epoch(run: Run, learner: Learner, progress: Progress, row: dict, improved: bool, rngs: list[dict]) -> None:
    """Rank 0 at an epoch's end: its ``log.csv`` row, ``last.pt``, and on improvement the phase's best:
    ``NoiseSchedule.best_file`` (``phase1.pt`` in phase 1 of a restart schedule, else ``best.pt``)."""
    log_row(run.out_dir / LOG_NAME, row, run.writer)
    if run.averaging is not None:  # before last.pt: a run resumed from it finds this epoch's weights
        run.averaging.add(progress.epoch, row["dev_error"], learner.model, run.common)
    data = serialize(_checkpoint(run, learner, progress, rngs))  # once: the best and last.pt hold the same bytes
    if improved:
        write_checkpoint(run.out_dir / run.schedule.best_file(progress), data)
    write_checkpoint(run.last_path, data)


def _finish(run: Run, progress: Progress) -> TrainResult:
    """Say where each phase ended; a restart run that ran out of epochs in phase 1 keeps phase1.pt as best.pt."""
    best_path, best_error = RunFolder(run.out_dir).best, progress.best
    if run.data.dev_split is not None and not math.isnan(progress.best_error):
        best_error = progress.best_error  # the metric ranks plateau epochs by dev loss (or is phase 1's dev loss)
    ending = run.schedule.ending(progress)
    if ending:
        log.info(ending)
    distributed.on_main(f"keeping {best_path}", lambda: _keep_best(run, progress))
    if run.averaging is not None:
        best_path, best_error = distributed.on_main("averaging checkpoints", lambda: run.averaging.finish(
            best_path, best_error, lambda weights: _dev_error(run, weights))) or (best_path, best_error)
    if run.data.dev_split is None:  # the metric was the training loss
        return TrainResult(run.out_dir, best_path, run.last_path, progress.epoch, math.nan, best_train_loss=best_error)
    return TrainResult(run.out_dir, best_path, run.last_path, progress.epoch, best_error)


def _dev_error(run: Run, weights: dict) -> float:
    """The dev error rate of the run's model with other weights (averaged ones)."""
    model = build_model(run.data.input_dim, len(run.data.vocab), run.config.model).to(run.device)
    model.load_state_dict(weights)
    _, scores = evaluate_split(model, run.data.dev_split, run.data.dev_feats, run.data.vocab, run.device, run.config)
    return scores.total.rate


def _keep_best(run: Run, progress: Progress) -> None:
    """Rank 0 at the end: ``phase1.pt`` becomes ``best.pt`` when phase 2 never started; refuse a run without one."""
    best_path = RunFolder(run.out_dir).best
    phase1 = RunFolder(run.out_dir).phase1
    if run.schedule.keeps_phase1_as_best(progress) and phase1.exists():
        copy_checkpoint(phase1, best_path)
    if not best_path.exists():
        raise CheckpointError(f"training finished without a best checkpoint in {run.out_dir}")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
