"""The weight-noise schedule object (seqlabel/training/schedule.py): noise, metric, best file and
phase switch of train.weight_noise_phase epoch and restart, without training anything."""
from __future__ import annotations

from seqlabel.config import TrainConfig
from seqlabel.training.schedule import NoiseSchedule
from seqlabel.training.state import Progress


def test_epoch_schedule_is_one_phase_with_noise_from_its_start_epoch() -> None:
    schedule = NoiseSchedule(TrainConfig(weight_noise=0.05, weight_noise_start_epoch=3))
    progress = Progress()
    assert [schedule.noise(progress.phase, e) for e in (1, 2, 3, 4)] == [0.0, 0.0, 0.05, 0.05]
    assert schedule.metric(progress, dev_loss=2.0, dev_error=0.3) == 0.3
    assert schedule.best_file(progress) == "best.pt" and not schedule.switches_on_patience(progress)
    assert schedule.ending(progress) is None


def test_restart_schedule_minimises_the_loss_then_the_error_with_noise_in_phase_two() -> None:
    schedule = NoiseSchedule(TrainConfig(weight_noise=0.075, weight_noise_phase="restart", early_stop_patience=2))
    progress = Progress()
    progress.epoch, progress.best, progress.bad_epochs = 7, 1.5, 2
    assert schedule.noise(1, 7) == 0.0 and schedule.metric(progress, 2.0, 0.3) == 2.0
    assert schedule.best_file(progress) == "phase1.pt" and schedule.switches_on_patience(progress)
    assert schedule.keeps_phase1_as_best(progress) and "in phase 1" in schedule.ending(progress)
    schedule.start_phase2(progress)
    assert (progress.phase, progress.phase1_end, progress.bad_epochs) == (2, 7, 0) and progress.best == float("inf")
    assert schedule.noise(progress.phase, 8) == 0.075 and schedule.metric(progress, 2.0, 0.3) == 0.3
    assert schedule.best_file(progress) == "best.pt" and not schedule.switches_on_patience(progress)
    assert "phase 1 (no weight noise) at epoch 7" in schedule.ending(progress)


def test_on_the_blank_plateau_a_falling_dev_loss_is_progress() -> None:
    """Dev error stuck at 100% (empty hypotheses) while the dev loss falls: each epoch improves, so neither
    the plateau schedule halves the learning rate nor early stopping ends the run; any error below 100%
    ranks better than every plateau epoch, and below 100% the error alone decides."""
    from types import SimpleNamespace

    import torch

    from seqlabel.training.loop import _end_epoch
    from seqlabel.training.schedule import plateau_aware
    from seqlabel.training.state import build_scheduler

    assert plateau_aware(0.4, 3.0) == 0.4 and plateau_aware(0.4, 1.0) == 0.4
    assert plateau_aware(1.0, 50.0) > plateau_aware(1.0, 45.0) > plateau_aware(0.99, 1e6)
    assert plateau_aware(1.3, 10.0) > plateau_aware(1.0, 5.0)  # all-wrong output too: the loss ranks it
    config = TrainConfig(lr_patience=1, early_stop_patience=2)
    schedule = NoiseSchedule(config)
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([weight], lr=1e-3)
    learner = SimpleNamespace(scheduler=build_scheduler(optimizer, config), optimizer=optimizer)
    progress = Progress()
    improved = [_end_epoch(None, learner, progress, epoch, schedule.metric(progress, loss, 1.0))  # type: ignore[arg-type]
                for epoch, loss in enumerate([62.0, 50.0, 45.0, 41.0, 38.0], 1)]
    assert improved == [True] * 5 and progress.bad_epochs == 0 and optimizer.param_groups[0]["lr"] == 1e-3
    assert _end_epoch(None, learner, progress, 6, schedule.metric(progress, 30.0, 0.8))  # type: ignore[arg-type]
    assert not _end_epoch(None, learner, progress, 7, schedule.metric(progress, 20.0, 1.0))  # type: ignore[arg-type]
    assert not _end_epoch(None, learner, progress, 8, schedule.metric(progress, 2.0, 0.9))  # type: ignore[arg-type]
    assert progress.bad_epochs == 2 and optimizer.param_groups[0]["lr"] < 1e-3
