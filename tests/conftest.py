"""Shared fixtures. Keep this small: fixtures used by more than one test module only."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # seqlabel loads only after pytest_configure has checked torch and torchaudio
    from seqlabel.lm import NgramLM


def pytest_configure(config: pytest.Config) -> None:
    """Stop at once with one message when torch and torchaudio do not work together, instead of a
    loader error in every test module that imports seqlabel."""
    from seqlabel.runtime import InstallError, check_torchaudio

    try:
        check_torchaudio()
    except InstallError as error:
        pytest.exit(f"broken install: {error}", returncode=4)


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


@pytest.fixture(scope="session", autouse=True)
def messages_as_on_the_command_line() -> None:
    """The package's log messages on stdout (INFO) and stderr (warnings), as the CLI shows them, in every
    test from the first: without it a test reading a recipe's notes passes only after some CLI test ran."""
    from seqlabel.cli.common import install_logging

    install_logging()


# ----------------------------------------------------------------------------- n-gram LMs over TOKENS
# Used by test_beam and test_beam_single: a character LM over "a", "b" and the boundary "|", a word LM.
@pytest.fixture(scope="session")
def char_lm() -> NgramLM:
    from seqlabel.lm import NgramLM

    return NgramLM.train([list("ab|a"), list("ba"), list("b|b|a"), list("aab")], order=3, smoothing="witten_bell")


@pytest.fixture(scope="session")
def word_lm() -> NgramLM:
    from seqlabel.lm import NgramLM

    return NgramLM.train([["ab", "a"], ["ba"], ["b", "ab"], ["a", "a", "ba"]], order=2, smoothing="witten_bell")


# ----------------------------------------------------------------------------- a tiny phone model
# Used by test_report (evaluate --fold) and test_plot (posteriorgram, curves): TIMIT phones spoken
# as tones, a one-layer 16-unit BiLSTM trained for a few epochs on CPU (a few seconds).
PHONE_RATE = 8000
PHONE_PITCH = {"aa": 300.0, "ao": 500.0, "sh": 1700.0, "zh": 2300.0, "q": 1100.0}
PHONE_TEXTS = ["aa sh", "sh aa", "ao zh", "zh ao q", "aa q sh", "q ao", "sh zh aa", "ao aa", "zh sh", "aa ao sh"]


def _phone_corpus(root: Path, texts: list[str], prefix: str) -> Path:
    import json

    import numpy as np
    import soundfile

    records = []
    for i, text in enumerate(texts):
        rng = np.random.default_rng(1000 + i + (0 if prefix == "tr" else 500))
        t = np.arange(int(0.08 * PHONE_RATE)) / PHONE_RATE
        pad = np.zeros(int(0.03 * PHONE_RATE))
        wave = np.concatenate([pad, *(0.4 * np.sin(2 * np.pi * PHONE_PITCH[p] * t) for p in text.split()), pad])
        path = root / "wav" / f"{prefix}{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), wave + 0.01 * rng.standard_normal(wave.size), PHONE_RATE, subtype="PCM_16")
        records.append({"id": f"spk{i % 2}-{prefix}{i}", "source": f"wav/{prefix}{i}.wav", "text": text,
                        "speaker": f"spk{i % 2}"})
    manifest = root / f"{prefix}.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return manifest


@pytest.fixture(scope="session")
def phone_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A trained tiny phone model: {"run": run folder, "checkpoint": best.pt, "dev": dev manifest}."""
    from seqlabel import api
    from seqlabel.config import config_from_data

    root = tmp_path_factory.mktemp("phone_run")
    train = _phone_corpus(root, PHONE_TEXTS, "tr")
    dev = _phone_corpus(root, ["aa zh q", "sh ao", "zh aa"], "dv")
    config = config_from_data({
        "data": {"train": str(train), "dev": str(dev), "unit": "phone"},
        "features": {"type": "fbank", "sample_rate": PHONE_RATE, "num_bins": 20, "cmvn": "global"},
        "model": {"num_layers": 1, "hidden_size": 16},
        "train": {"lr": 0.05, "max_epochs": 4, "batch_frames": 400, "max_batch_size": 2, "progress": False,
                  "tensorboard": False, "device": "cpu", "amp": "off", "early_stop_patience": 0, "seed": 3,
                  "lr_patience": 0, "lr_factor": 0.5},
    })
    result = api.train(config, root / "exp", echo=lambda _: None)
    return {"run": root / "exp", "checkpoint": result.best_checkpoint, "dev": dev}


@pytest.fixture(scope="session")
def phone_lm(phone_run: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Witten-Bell phone trigram of the tiny phone model's training transcripts, written by ``lm train``."""
    from helpers import invoke, ok

    out = tmp_path_factory.mktemp("lm") / "phone.arpa"
    train = phone_run["dev"].parent / "tr.jsonl"
    result = ok(invoke("lm", "train", train, "--unit", "phone", "--order", "3", "--smoothing", "witten_bell",
                    "--out", out))
    assert "wrote" in result.output and out.is_file()
    return out


@pytest.fixture(scope="session")
def bad_input_base(tmp_path_factory: pytest.TempPathFactory):
    """Good inputs that the bad-input catalogue (``test_bad_input_*.py``) spoils, made once."""
    from bad_input import make_base

    return make_base(tmp_path_factory)



# ----------------------------------------------------------------------------- a tiny line-image model
# Used by test_html_report (train ends with the test set's HTML report) and test_html_report_browser.
@pytest.fixture(scope="session")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A trained tiny model of printed text lines with a test set: {"run", "test" (manifest), "messages"}."""
    from report_fixtures import text_lines, tiny_run

    root = tmp_path_factory.mktemp("image_run")
    train = text_lines(root, ["ab", "ba", "aab", "bba", "abab", "b", "a", "bab", "ab ba", "a b"], "tr")
    test = text_lines(root, ["aba", "bb", "ab a"], "te")
    messages = tiny_run(root, train, test, {"type": "image", "cmvn": "none", "image": {"height": 12, "pad": 2}})
    return {"run": root / "exp", "test": test, "messages": messages}
