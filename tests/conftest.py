"""Shared fixtures. Keep this small: fixtures used by more than one test module only."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real corpora: ``$SEQLABEL_SHARED_DATA``, else the repository's sibling
    ``shared/data``. It may be absent: tests using it skip when their corpus is missing."""
    override = os.environ.get("SEQLABEL_SHARED_DATA")
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """The tests run tiny models: on a shared CPU, OpenMP threads spinning against a busy core make
    a small LSTM step a thousand times slower, so use one intra-op thread while testing."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
