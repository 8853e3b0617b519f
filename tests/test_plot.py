"""seqlabel.scoring.plot and ``seqlabel plot``: PNG files of sane size from a log.csv and from a tiny model's
posteriors; clear errors for a missing log, a foreign CSV and an unknown utterance."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from seqlabel.cli import main
from seqlabel.errors import DataError
from seqlabel.scoring.plot import draw_curves, draw_posteriorgram, read_log

LOG = """epoch,step,lr,train_loss,dev_loss,dev_error,skipped_infeasible,skipped_nonfinite,epoch_seconds,frames_per_second
1,10,0.001,95.1,80.2,0.9,0,0,1.0,100
2,20,0.001,60.3,55.0,0.6,0,0,1.0,100
3,30,0.0005,40.2,41.7,0.45,0,0,1.0,100
4,40,0.0005,30.0,43.1,0.47,0,0,1.0,100
"""


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def test_read_log(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(LOG)
    log = read_log(tmp_path)  # a run folder or the file itself
    assert log == read_log(tmp_path / "log.csv")
    assert log.epoch == (1, 2, 3, 4) and log.lr[2] == 0.0005 and log.dev_error[-1] == 0.47


def test_curves_png(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(LOG)
    out = draw_curves(read_log(tmp_path), tmp_path / "plots" / "curves.png")
    assert png_size(out) == (800, 600) and out.stat().st_size > 10_000


def test_curves_without_dev_set(tmp_path: Path) -> None:
    rows = LOG.splitlines()
    (tmp_path / "log.csv").write_text("\n".join([rows[0]] + [r.replace(",80.2,0.9,", ",nan,nan,") for r in rows[1:2]]))
    assert png_size(draw_curves(read_log(tmp_path), tmp_path / "c.png")) == (800, 600)


def test_bad_logs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="training log not found"):
        read_log(tmp_path)
    (tmp_path / "log.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['epoch'"):
        read_log(tmp_path / "log.csv")
    (tmp_path / "log.csv").write_text(LOG.splitlines()[0] + "\n")
    with pytest.raises(DataError, match="no epochs"):
        read_log(tmp_path)
    (tmp_path / "log.csv").write_text(LOG.replace("95.1", "lots"))
    with pytest.raises(DataError, match="log.csv:2: not a number"):
        read_log(tmp_path)


def test_posteriorgram_from_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(120, 30))
    logits[:, 0] += 3.0  # mostly blank, as CTC outputs are
    post = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # (T', C)
    labels = ["<blank>"] + [f"p{i}" for i in range(1, 30)]
    out = draw_posteriorgram(post, labels, tmp_path / "p.png", reference=["p1", "p2"], hypothesis=["p1"],
                             hypothesis_frames=[10], title="synthetic")
    width, height = png_size(out)
    assert 600 <= width <= 3000 and 300 <= height <= 2000
    with pytest.raises(ValueError, match="C = 3 labels"):
        draw_posteriorgram(post, labels[:3], tmp_path / "x.png")


# ----------------------------------------------------------------------------- seqlabel plot (a real run)
def test_plot_curves_cli(phone_run: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("plot", "curves", phone_run["run"], "--out", tmp_path / "curves.png")
    assert result.exit_code == 0, result.output
    assert "curves.png" in result.output and png_size(tmp_path / "curves.png") == (800, 600)
    missing = invoke("plot", "curves", tmp_path / "nope", "--out", tmp_path / "c.png")
    assert missing.exit_code == 1 and "training log not found" in missing.output and "Traceback" not in missing.output


def test_plot_posteriorgram_cli(phone_run: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "post.png"
    result = invoke("plot", "posteriorgram", phone_run["checkpoint"], phone_run["dev"], "spk1-dv1", "--out", out,
                    "--device", "cpu")
    assert result.exit_code == 0, result.output
    width, height = png_size(out)
    assert 600 <= width <= 3000 and 300 <= height <= 2000 and out.stat().st_size > 10_000


def test_plot_posteriorgram_unknown_utterance(phone_run: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("plot", "posteriorgram", phone_run["checkpoint"], phone_run["dev"], "spk1-dv9",
                    "--out", tmp_path / "p.png", "--device", "cpu")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "utterance 'spk1-dv9' is not in" in result.output and "did you mean" in result.output
    assert not (tmp_path / "p.png").exists()
