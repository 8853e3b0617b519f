"""The files of a run folder, named in one place: what ``seqlabel train --out DIR`` writes there.

    config.yaml     the run's config (with what a resume changed), overrides.txt: the -o it started with
    tokens.txt      the vocabulary (class k on line k, blank first)
    best.pt         the best epoch by dev error (by training loss without a dev set)
    last.pt         the latest epoch (or step) checkpoint: what --resume continues from
    phase1.pt       train.weight_noise_phase: restart: phase 1's best point, phase 2's start
    epochs/         train.average_last: the epochs being averaged; avg.pt: their average
    log.csv         one row per epoch; skipped.tsv: utterances left out of steps, and why
    run.lock        while a training runs: its pid and host
    test/           the test set's evaluation (reports, posteriors, HTML report)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BEST, LAST, PHASE1, AVERAGE, EPOCHS = "best.pt", "last.pt", "phase1.pt", "avg.pt", "epochs"
CONFIG, OVERRIDES, TOKENS = "config.yaml", "overrides.txt", "tokens.txt"
LOG, SKIPPED, LOCK, TEST = "log.csv", "skipped.tsv", "run.lock", "test"


@dataclass(frozen=True)
class RunFolder:
    """Paths of one run folder's files (see the module docstring)."""

    root: Path

    @property
    def best(self) -> Path:
        return self.root / BEST

    @property
    def last(self) -> Path:
        return self.root / LAST

    @property
    def phase1(self) -> Path:
        return self.root / PHASE1

    @property
    def average(self) -> Path:
        return self.root / AVERAGE

    @property
    def epochs(self) -> Path:
        return self.root / EPOCHS

    @property
    def config(self) -> Path:
        return self.root / CONFIG

    @property
    def overrides(self) -> Path:
        return self.root / OVERRIDES

    @property
    def tokens(self) -> Path:
        return self.root / TOKENS

    @property
    def log(self) -> Path:
        return self.root / LOG

    @property
    def skipped(self) -> Path:
        return self.root / SKIPPED

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    @property
    def test(self) -> Path:
        return self.root / TEST
