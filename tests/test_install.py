"""The installed torch/torchaudio pair: torchaudio's compiled ops load and run (a broken pair
fails here with both versions and the fix in the message, not as a loader error elsewhere)."""
from __future__ import annotations

import sys

import pytest

from seqlabel import runtime


def test_torchaudio_compiled_ops_run_beside_the_installed_torch():
    runtime.check_torchaudio()


def test_the_installed_pair_is_the_pinned_one():
    assert runtime.installed_version("torch").split("+")[0] == runtime.PROVEN_TORCH
    assert runtime.installed_version("torchaudio").split("+")[0] == runtime.PROVEN_TORCHAUDIO


def test_a_broken_pair_names_both_versions_and_the_fix(monkeypatch):
    class Broken:  # stands in for torchaudio.functional whose compiled library does not load
        def __getattr__(self, name):
            raise OSError("Could not load this library: libtorchaudio.so: undefined symbol")

    monkeypatch.setitem(sys.modules, "torchaudio.functional", Broken())
    with pytest.raises(runtime.InstallError) as caught:
        runtime.check_torchaudio()
    message = str(caught.value)
    assert runtime.installed_version("torch") in message and runtime.installed_version("torchaudio") in message
    assert f"pip install torch=={runtime.PROVEN_TORCH} torchaudio=={runtime.PROVEN_TORCHAUDIO}" in message
    assert "undefined symbol" in message
