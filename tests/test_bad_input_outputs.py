"""Bad output places, command by command (issue 13): a read-only folder, a folder given where a file is
written, a file where a folder is needed. Each is refused by the command line before any work starts:
the cases make every kind of work (loading a checkpoint, reading references, running a recipe, ...)
fail loudly, so a check that comes after the work fails the case. Missing folders above an output are
created, with a note naming the first one (``test_missing_folders_are_created_with_a_note``)."""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterator
from unittest import mock

import click
import pytest
from bad_input import Base, Row, check_case, cli, ids

WORK = ("seqlabel.inference.recognizer.Recognizer.from_checkpoint", "seqlabel.inference.export.export",
        "seqlabel.lm.train_lm", "seqlabel.scoring.evaluation.read_kaldi_text", "seqlabel.scoring.plot.read_log",
        "seqlabel.scoring.html.build_report", "seqlabel.corpora.run_recipe",
        "seqlabel.training.averaging.average_checkpoints")


@contextlib.contextmanager
def no_work() -> Iterator[None]:
    """Every kind of work a command does fails: the output check must come first."""
    with contextlib.ExitStack() as stack:
        for target in WORK:
            stack.enter_context(mock.patch(target, side_effect=AssertionError(f"{target} ran before the output check")))
        yield


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder``, made read-only: permission bits, and for root (whom they do not bind) the immutable flag."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    flagged = os.geteuid() == 0 and shutil.which("chattr") is not None and subprocess.run(
        ["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        try:
            os.close(tempfile.mkstemp(dir=folder)[0])
            pytest.skip("cannot make a read-only folder here (root without chattr +i)")
        except OSError:
            pass
        yield folder
    finally:
        if flagged:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


# Each command: (name, is the output a folder, the command line with OUT where the output place goes)
def commands(base: Base, tmp: Path) -> dict[str, tuple[bool, list]]:
    ck, manifest, npy = base.checkpoint, base.root / "train.jsonl", base.root / "u0.npy"
    (tmp / "ref.txt").write_text("u0 a b\n", encoding="utf-8")
    return {
        "decode": (False, ["decode", ck, manifest, "--out", "OUT"]),
        "decode_ctm": (False, ["decode", ck, manifest, "--out", tmp / "hyp.txt", "--ctm", "OUT"]),
        "decode_nbest": (False, ["decode", ck, manifest, "--out", tmp / "hyp.txt", "--nbest-out", "OUT"]),
        "align": (False, ["align", ck, manifest, "--out", "OUT"]),
        "export": (False, ["export", ck, "--out", "OUT"]),
        "lm_train": (False, ["lm", "train", manifest, "--out", "OUT"]),
        "plot_curves": (False, ["plot", "curves", base.run, "--out", "OUT"]),
        "plot_posteriorgram": (False, ["plot", "posteriorgram", ck, manifest, "u0", "--out", "OUT"]),
        "score_report": (False, ["score", tmp / "ref.txt", tmp / "ref.txt", "--report", "OUT"]),
        "transcribe": (False, ["transcribe", ck, npy, "--out", "OUT"]),
        "transcribe_ctm": (False, ["transcribe", ck, npy, "--ctm", "OUT"]),
        "average": (False, ["average", ck, ck, "--out", "OUT"]),
        "evaluate": (True, ["evaluate", ck, manifest, "--out", "OUT"]),
        "score": (True, ["score", tmp / "ref.txt", tmp / "ref.txt", "--out", "OUT"]),
        "prepare": (True, ["prepare", "fsdd", "--data-dir", tmp, "--out", "OUT"]),
        "report": (True, ["report", base.run, "--out", "OUT"]),
    }


FILE_COMMANDS = ("decode", "decode_ctm", "decode_nbest", "align", "export", "lm_train", "plot_curves",
                 "plot_posteriorgram", "score_report", "transcribe", "transcribe_ctm", "average")
DIR_COMMANDS = ("evaluate", "score", "prepare", "report")


def run(command: str, base: Base, tmp: Path, out: Path) -> None:
    _, args = commands(base, tmp)[command]
    with no_work():
        cli(*[out if a == "OUT" else a for a in args])


def make_case(command: str, kind: str) -> Callable[[Path, Base], None]:
    def case(tmp: Path, base: Base) -> None:
        if kind == "read_only_folder":
            with read_only(tmp / "ro") as ro:
                run(command, base, tmp, ro / "out")
            return
        if kind == "folder_as_file":
            (tmp / "d").mkdir()
            run(command, base, tmp, tmp / "d")
        elif kind == "file_as_folder":
            (tmp / "f").write_text("a file\n")
            run(command, base, tmp, tmp / "f")
        else:  # file_in_path: a file where a folder above the output is needed
            (tmp / "f").write_text("a file\n")
            run(command, base, tmp, tmp / "f" / "out")
    case.__name__ = f"output_{command}_{kind}"
    return case


CASES: list[Row] = []
for _command in FILE_COMMANDS + DIR_COMMANDS:
    _what = "--ctm" if _command.endswith("_ctm") else "--nbest-out" if _command.endswith("_nbest") else \
        "--report" if _command == "score_report" else "--out"
    CASES += [(make_case(_command, "read_only_folder"), click.ClickException,
               (f"{_what} {{tmp}}/ro/out", "the folder {tmp}/ro is not writable", "give a place you can write to")),
              (make_case(_command, "file_in_path"), click.ClickException,
               (f"{_what} {{tmp}}/f/out", "{tmp}/f is a file, not a folder"))]
    if _command in FILE_COMMANDS:
        CASES.append((make_case(_command, "folder_as_file"), click.ClickException,
                      (f"{_what} {{tmp}}/d is a folder", "give a file name")))
    else:
        CASES.append((make_case(_command, "file_as_folder"), click.ClickException,
                      (f"{_what} {{tmp}}/f is a file, not a folder", "give a folder name")))


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)
    assert not list(tmp_path.rglob("*.tmp")), "a half-written output was left behind"


@pytest.mark.parametrize("command", FILE_COMMANDS + DIR_COMMANDS)
def test_missing_folders_are_created_with_a_note(command: str, bad_input_base: Base, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A missing folder above an output is not refused: the command says it will create it, and makes it
    only once its work is done."""
    out = tmp_path / "new" / "deeper" / "out"
    caplog.set_level(logging.WARNING, logger="seqlabel")
    with pytest.raises(AssertionError, match="ran before the output check"):  # checked, then the work starts
        run(command, bad_input_base, tmp_path, out)
    assert f"the folder {tmp_path / 'new'} does not exist; it will be created" in caplog.text
    assert not (tmp_path / "new").exists()  # nothing is made before the work succeeds


@pytest.mark.parametrize("command", ["decode", "score_report", "transcribe_ctm", "plot_curves", "evaluate", "average"])
def test_missing_folders_are_created(command: str, bad_input_base: Base, tmp_path: Path) -> None:
    """... and the output lands there (checked for the commands that are quick to run whole)."""
    out = tmp_path / "new" / "deeper" / "out"
    _, args = commands(bad_input_base, tmp_path)[command]
    device = ["--device", "cpu"] if command in ("decode", "transcribe_ctm", "evaluate") else []
    cli(*[out if a == "OUT" else a for a in args], *device)
    assert out.exists()


@pytest.mark.parametrize("command, first, second", [("decode", "--out", "--ctm"), ("decode", "--out", "--nbest-out"),
                                                     ("transcribe", "--out", "--ctm")])
def test_one_file_given_for_two_outputs_is_refused(command: str, first: str, second: str, bad_input_base: Base,
                                                   tmp_path: Path) -> None:
    """Two outputs of one command in one file: the second would overwrite the first."""
    ck, manifest, npy = bad_input_base.checkpoint, bad_input_base.root / "train.jsonl", bad_input_base.root / "u0.npy"
    out = tmp_path / "same.txt"
    with no_work(), pytest.raises(click.ClickException, match=f"{second} {out} is also given as {first}"):
        cli(command, ck, manifest if command == "decode" else npy, first, out, second, out)
    assert not out.exists()


def test_plot_curves_never_writes_over_a_file_of_the_run(bad_input_base: Base, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(bad_input_base.run, run)
    for name in ("log.csv", "best.pt", "config.yaml"):
        before = (run / name).read_bytes()
        with no_work(), pytest.raises(click.ClickException, match=f"--out {run / name} is one of the inputs"):
            cli("plot", "curves", run, "--out", run / name)
        assert (run / name).read_bytes() == before
