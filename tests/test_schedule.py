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
