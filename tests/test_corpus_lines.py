"""Offline handwriting recipes: ``lines`` (image + .gt.txt), ``iam`` (IAM lines layout) and ``digits``
(scikit-learn's digits composed into strings), on fixture trees built in tmp_path with the real file
names and formats; Caroline Minuscule from ``shared_data`` when it is there.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from seqlabel.cli import main
from seqlabel.config import FeatureConfig, ImageFeatureConfig
from seqlabel.corpora import run_recipe
from seqlabel.data.manifest import read_manifest
from seqlabel.data.vocab import Vocab
from seqlabel.errors import ConfigError, DataError
from seqlabel.features import build_extractor


def write_png(path: Path, width: int = 40, height: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = np.full((height, width), 255, dtype=np.uint8)
    grey[4:12, 5 : width - 5] = 0
    Image.fromarray(grey).save(path)
    return path


def texts(path: Path) -> dict[str, str]:
    return {u.id: u.text for u in read_manifest(path)}


def speakers(path: Path) -> set[str]:
    return {u.speaker for u in read_manifest(path)}


# ----------------------------------------------------------------------------- lines (.gt.txt)
DECOMPOSED = "doctore\u0303 omnium"  # e + combining tilde, as some transcribers type it


def lines_tree(root: Path, folders: int = 5, per_folder: int = 3) -> Path:
    """<root>/ms<k>/<page>/<line>.bin.png + .gt.txt, as ocropus writes them."""
    for k in range(folders):
        for i in range(per_folder):
            stem = root / f"ms{k}" / "0011" / f"01000{i}"
            write_png(stem.with_name(stem.name + ".bin.png"), width=30 + 5 * i)
            text = DECOMPOSED if (k, i) == (0, 0) else f"line {k} {i}  of  ms{k}\n"
            stem.with_name(stem.name + ".gt.txt").write_text(text, encoding="utf-8")
    return root


def test_lines_manifests_split_by_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = lines_tree(tmp_path / "gt")
    paths = run_recipe("lines", data, tmp_path / "out", {"test_folders": "ms1,ms2", "dev_folders": ["ms3"]})
    assert set(paths) == {"train", "dev", "test"}
    assert speakers(paths["test"]) == {"ms1", "ms2"} and speakers(paths["dev"]) == {"ms3"}
    assert speakers(paths["train"]) == {"ms0", "ms4"}
    train = {u.id: u for u in read_manifest(paths["train"])}
    utt = train["ms4-0011-010002"]
    assert utt.text == "line 4 2 of ms4"  # whitespace runs collapsed, newline stripped
    assert Path(utt.source).name == "010002.bin.png" and Path(utt.source).is_file()
    assert train["ms0-0011-010000"].text == unicodedata.normalize("NFC", DECOMPOSED) == "doctor\u1ebd omnium"
    summary = (tmp_path / "out" / "prepare.txt").read_text(encoding="utf-8")
    assert "Unicode normalization NFC" in summary and "test folders (6 lines): ms1, ms2" in summary
    assert "Unicode normalization NFC" in capsys.readouterr().out


@pytest.mark.parametrize("form", ["NFD", "NFKC", "NFKD", "none"])
def test_lines_normalization_forms(tmp_path: Path, form: str) -> None:
    data = lines_tree(tmp_path / "gt")
    (data / "ms0" / "0011" / "010001.gt.txt").write_text("\u1ebd\ufb01", encoding="utf-8")  # ẽ, ligature fi
    paths = run_recipe("lines", data, tmp_path / "out", {"test_folders": "ms1", "dev_folders": "ms2",
                                                         "normalization": form})
    got = texts(paths["train"])["ms0-0011-010001"]
    expected = "\u1ebd\ufb01" if form == "none" else unicodedata.normalize(form, "\u1ebd\ufb01")
    assert got == expected
    if form == "none":
        assert texts(paths["train"])["ms0-0011-010000"] == DECOMPOSED
    assert f"Unicode normalization {form}" in (tmp_path / "out" / "prepare.txt").read_text(encoding="utf-8")


def test_lines_automatic_split_is_folder_disjoint_and_reproducible(tmp_path: Path) -> None:
    data = lines_tree(tmp_path / "gt", folders=8)
    a = run_recipe("lines", data, tmp_path / "a", {"test_fraction": 0.2, "dev_fraction": 0.1, "seed": 3})
    b = run_recipe("lines", data, tmp_path / "b", {"test_fraction": 0.2, "dev_fraction": 0.1, "seed": 3})
    groups = [speakers(a[s]) for s in ("train", "dev", "test")]
    assert all(not (x & y) for i, x in enumerate(groups) for y in groups[i + 1 :])
    assert set().union(*groups) == {f"ms{k}" for k in range(8)}
    assert len(groups[2]) == 2 and len(groups[1]) == 1  # 20% of 24 lines: two folders of 3; 10%: one
    assert all(texts(a[s]) == texts(b[s]) for s in a)


def test_lines_codec_holds_every_character(tmp_path: Path) -> None:
    data = lines_tree(tmp_path / "gt")
    (data / "ms1" / "0011" / "010000.gt.txt").write_text("K/\u01e3", encoding="utf-8")  # test-only characters
    paths = run_recipe("lines", data, tmp_path / "out", {"test_folders": "ms1", "dev_folders": "ms2"})
    vocab = Vocab.load(tmp_path / "out" / "tokens.txt")
    assert {"K", "/", "\u01e3", "|"} <= set(vocab.tokens)
    assert "K" not in "".join(texts(paths["train"]).values())
    assert vocab.encode(texts(paths["test"])["ms1-0011-010000"])


def test_lines_images_without_transcript_are_skipped_and_counted(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    data = lines_tree(tmp_path / "gt")
    write_png(data / "ms0" / "0011" / "010009.bin.png")  # no .gt.txt
    write_png(data / "ms0" / "0011" / "010000.nrm.png")  # another rendering of a transcribed line
    paths = run_recipe("lines", data, tmp_path / "out", {"test_folders": "ms1", "dev_folders": "ms2"})
    assert len(read_manifest(paths["train"])) == 9  # ms0, ms3, ms4
    err = capsys.readouterr().err
    assert "1 image(s) have no .gt.txt transcript" in err and "010009.bin.png" in err


def test_lines_image_ext_and_plain_png(tmp_path: Path) -> None:
    data = tmp_path / "gt"
    for k in range(3):  # kraken/Calamari style: <name>.png beside <name>.gt.txt, plus a .nrm.png variant
        write_png(data / f"w{k}" / "a.png")
        write_png(data / f"w{k}" / "a.nrm.png", width=50)
        (data / f"w{k}" / "a.gt.txt").write_text("abc", encoding="utf-8")
    paths = run_recipe("lines", data, tmp_path / "o1", {"test_folders": "w1", "dev_folders": "w2"})
    assert Path(read_manifest(paths["train"])[0].source).name == "a.png"
    paths = run_recipe("lines", data, tmp_path / "o2", {"test_folders": "w1", "dev_folders": "w2",
                                                        "image_ext": "nrm.png"})
    assert Path(read_manifest(paths["train"])[0].source).name == "a.nrm.png"


@pytest.mark.parametrize("fault, message", [
    ("empty", r"transcript .*ms2/0011/010001\.gt\.txt is empty"),
    ("blank", r"transcript .*ms2/0011/010001\.gt\.txt is empty"),
    ("no_image", r"ms2/0011/010001\.gt\.txt has no image"),
    ("corrupt", r"cannot read image .*ms2/0011/010001\.bin\.png"),
    ("latin1", r"ms2/0011/010001\.gt\.txt is not UTF-8"),
])
def test_lines_faults_name_the_file(tmp_path: Path, fault: str, message: str) -> None:
    data = lines_tree(tmp_path / "gt")
    gt = data / "ms2" / "0011" / "010001.gt.txt"
    image = data / "ms2" / "0011" / "010001.bin.png"
    if fault == "empty":
        gt.write_text("", encoding="utf-8")
    elif fault == "blank":
        gt.write_text(" \n\t\n", encoding="utf-8")
    elif fault == "no_image":
        image.unlink()
    elif fault == "corrupt":
        image.write_bytes(b"\x89PNG\r\n\x1a\n\x00garbage")
    else:
        gt.write_bytes("Caf\u00e9".encode("latin-1"))
    with pytest.raises(DataError, match=message):
        run_recipe("lines", data, tmp_path / "out", {"test_folders": "ms1", "dev_folders": "ms3"})


def test_lines_bad_options(tmp_path: Path) -> None:
    data = lines_tree(tmp_path / "gt", folders=2)
    with pytest.raises(ConfigError, match="normalization must be one of"):
        run_recipe("lines", data, tmp_path / "out", {"normalization": "nfc"})
    with pytest.raises(ConfigError, match="unknown folder.*ms9"):
        run_recipe("lines", data, tmp_path / "out", {"test_folders": "ms9"})
    with pytest.raises(ConfigError, match="in both"):
        run_recipe("lines", data, tmp_path / "out", {"test_folders": "ms0", "dev_folders": "ms0"})
    with pytest.raises(DataError, match="too few for a folder-disjoint split"):
        run_recipe("lines", data, tmp_path / "out", {})
    with pytest.raises(ConfigError, match="has no option 'normalisation'"):
        run_recipe("lines", data, tmp_path / "out", {"normalisation": "NFC"})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \*\.gt\.txt transcripts"):
        run_recipe("lines", tmp_path / "empty", tmp_path / "out2", {"test_folders": ""})


def test_prepare_lines_through_the_cli(tmp_path: Path) -> None:
    data = lines_tree(tmp_path / "gt")
    result = CliRunner().invoke(main, ["prepare", "lines", "--data-dir", str(data), "--out", str(tmp_path / "out"),
                                       "-p", "test_folders=ms1", "-p", "dev_folders=ms2", "-p", "normalization=NFD"])
    assert result.exit_code == 0, result.output
    assert "Unicode normalization NFD" in result.output and f"train: {tmp_path / 'out' / 'train.jsonl'}" in result.output
    bad = CliRunner().invoke(main, ["prepare", "lines", "--data-dir", str(tmp_path / "nowhere")])
    assert bad.exit_code == 1 and "does not exist" in bad.output


# ----------------------------------------------------------------------------- IAM lines
LINES_TXT = """\
#--- lines.txt ---------------------------------------------------------------#
#
# iam database line information
#
# format: a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop|Mr.|Gaitskell|from
#
a01-000u-00 ok 154 19 408 746 1663 91 A|MOVE|to|stop|Mr.|Gaitskell|from
a01-000u-01 ok 156 19 395 932 1850 105 nominating|any|more|Labour|life|Peers|,|he|'s
a01-000u-02 err 157 16 408 1106 1838 83 Mr.|Michael|Foot|has|put|down|a|resolution
a01-003-00 ok 176 20 354 743 1798 87 Though|they|may|gather|some|Left-wing|support
b01-000-00 ok 180 12 380 715 1590 95 Sir|Roy|'s|letter|"|Hello|"
c03-081f-00 err 170 9 350 700 1500 90 The|end|.
d04-012-00 ok 170 9 350 700 1500 90 Another|writer|here
e07-101-00 ok 170 9 350 700 1500 90 And|yet|another|one
"""
FORMS_TXT = """\
#--- forms.txt ---
# format: a01-000u 000 2 prt 7 5 52 36
a01-000u 000 2 prt 7 5 52 36
a01-003 000 2 all 6 6 40 40
b01-000 001 2 all 6 6 40 40
c03-081f 002 1 prt 6 5 40 36
d04-012 003 1 all 6 6 40 40
e07-101 004 1 all 6 6 40 40
"""


def iam_tree(root: Path, forms: bool = True) -> Path:
    (root / "ascii").mkdir(parents=True)
    (root / "ascii" / "lines.txt").write_text(LINES_TXT, encoding="utf-8")
    if forms:
        (root / "ascii" / "forms.txt").write_text(FORMS_TXT, encoding="utf-8")
    for raw in LINES_TXT.splitlines():
        if raw and not raw.startswith("#"):
            line_id = raw.split()[0]
            prefix, form, _ = line_id.split("-")
            write_png(root / "lines" / prefix / f"{prefix}-{form}" / f"{line_id}.png")
    return root


def all_lines(paths: dict[str, Path]) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in paths.values():
        out.update(texts(path))
    return out


def test_iam_transcripts_writers_and_err_lines(tmp_path: Path) -> None:
    data = iam_tree(tmp_path / "iam")
    paths = run_recipe("iam", data, tmp_path / "out", {"test_fraction": 0.2, "dev_fraction": 0.1})
    lines = all_lines(paths)
    assert len(lines) == 8  # status=all (default) keeps the err lines
    assert lines["a01-000u-00"] == "A MOVE to stop Mr. Gaitskell from"
    assert lines["a01-000u-01"] == "nominating any more Labour life Peers , he 's"
    assert lines["b01-000-00"] == 'Sir Roy \'s letter " Hello "'
    assert lines["a01-000u-02"].startswith("Mr. Michael")
    utts = {u.id: u for p in paths.values() for u in read_manifest(p)}
    assert utts["a01-003-00"].speaker == utts["a01-000u-00"].speaker == "000"  # two forms, one writer
    assert Path(utts["a01-000u-00"].source).as_posix().endswith("lines/a01/a01-000u/a01-000u-00.png")
    groups = [speakers(paths[s]) for s in paths]
    assert all(not (x & y) for i, x in enumerate(groups) for y in groups[i + 1 :])  # writer-disjoint
    ok = all_lines(run_recipe("iam", data, tmp_path / "ok", {"status": "ok", "test_fraction": 0.2,
                                                              "dev_fraction": 0.1}))
    assert set(lines) - set(ok) == {"a01-000u-02", "c03-081f-00"}
    assert "|" not in Vocab.load(tmp_path / "out" / "tokens.txt").tokens[2:]


def test_iam_task_split(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = iam_tree(tmp_path / "iam")
    task = data / "task"
    task.mkdir()
    (task / "trainset.txt").write_text("a01-000u-00\na01-000u-01\na01-000u-02\na01-003-00\n", encoding="utf-8")
    (task / "validationset1.txt").write_text("b01-000-00\n", encoding="utf-8")
    (task / "validationset2.txt").write_text("c03-081f-00\n", encoding="utf-8")
    (task / "testset.txt").write_text("d04-012-00\n", encoding="utf-8")
    paths = run_recipe("iam", data, tmp_path / "out", {"split": "task"})
    assert set(texts(paths["dev"])) == {"b01-000-00", "c03-081f-00"}
    assert set(texts(paths["test"])) == {"d04-012-00"} and len(texts(paths["train"])) == 4
    assert "1 line(s) are in no task list" in capsys.readouterr().err
    paths = run_recipe("iam", data, tmp_path / "ok", {"split": "task", "status": "ok"})
    assert set(texts(paths["dev"])) == {"b01-000-00"}


def test_iam_without_forms_uses_form_ids(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = iam_tree(tmp_path / "iam", forms=False)
    paths = run_recipe("iam", data, tmp_path / "out", {"test_fraction": 0.2, "dev_fraction": 0.1})
    assert "a01-000u" in set().union(*(speakers(p) for p in paths.values()))
    assert "each form counts as a writer" in capsys.readouterr().err


@pytest.mark.parametrize("edit, message", [
    (lambda d: (d / "lines/b01/b01-000/b01-000-00.png").unlink(), r"'b01-000-00'.*no image .*b01-000-00\.png"),
    (lambda d: (d / "lines/b01/b01-000/b01-000-00.png").write_bytes(b"junk"), r"cannot read image .*b01-000-00"),
    (lambda d: _append(d, "f01-000-00 maybe 1 2 3 4 5 6 Hi\n"), r"lines\.txt:15: status must be"),
    (lambda d: _append(d, "f01-000-00 ok 1 2 3 4 x 6 Hi\n"), r"lines\.txt:15: grey level"),
    (lambda d: _append(d, "f01-000-00 ok 1 2\n"), r"lines\.txt:15: expected 9 fields"),
    (lambda d: _append(d, "a01-000u-00 ok 1 2 3 4 5 6 Hi\n"), r"lines\.txt:15: duplicate line id"),
    (lambda d: (d / "ascii/lines.txt").unlink(), r"no .*ascii/lines\.txt"),
])
def test_iam_faults_name_the_file(tmp_path: Path, edit, message: str) -> None:
    data = iam_tree(tmp_path / "iam")
    edit(data)
    with pytest.raises(DataError, match=message):
        run_recipe("iam", data, tmp_path / "out", {})


def _append(root: Path, line: str) -> None:
    with (root / "ascii" / "lines.txt").open("a", encoding="utf-8") as f:
        f.write(line)


def test_iam_bad_options(tmp_path: Path) -> None:
    data = iam_tree(tmp_path / "iam")
    with pytest.raises(ConfigError, match="status must be"):
        run_recipe("iam", data, tmp_path / "out", {"status": "err"})
    with pytest.raises(ConfigError, match="split must be"):
        run_recipe("iam", data, tmp_path / "out", {"split": "random"})
    with pytest.raises(DataError, match="trainset.txt"):
        run_recipe("iam", data, tmp_path / "out", {"split": "task"})


# ----------------------------------------------------------------------------- digits
def test_digits_strings_images_and_disjoint_pools(tmp_path: Path) -> None:
    from seqlabel.corpora.digits import load_digit_images, split_images

    options = {"num_train": 12, "num_dev": 3, "num_test": 4, "min_len": 2, "max_len": 5, "scale": 3}
    paths = run_recipe("digits", None, tmp_path / "out", options)
    assert [len(read_manifest(paths[s])) for s in ("train", "dev", "test")] == [12, 3, 4]
    for utt in read_manifest(paths["train"]):
        assert utt.text.isdigit() and 2 <= len(utt.text) <= 5
        width, height = Image.open(utt.source).size
        assert height == 8 * 3 + 2 * 3 and width >= len(utt.text) * (24 - 1)
    again = run_recipe("digits", None, tmp_path / "again", options)
    assert texts(again["test"]) == texts(paths["test"])  # reproducible
    _, labels = load_digit_images()
    pools = split_images(labels, 0.1, 0.2, seed=0)
    assert not set(pools["train"]) & set(pools["test"]) and not set(pools["dev"]) & set(pools["test"])
    assert sum(len(p) for p in pools.values()) == len(labels) == 1797
    assert all(set(labels[p]) == set(range(10)) for p in pools.values())
    feats = build_extractor(FeatureConfig(type="image", cmvn="none", image=ImageFeatureConfig(height=24)))(
        read_manifest(paths["dev"])[0])
    assert feats.shape[1] == 24 and float(feats.max()) > 0.5


def test_digits_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="drop --data-dir"):
        run_recipe("digits", tmp_path, tmp_path / "out", {})
    with pytest.raises(ConfigError, match="min_len"):
        run_recipe("digits", None, tmp_path / "out", {"min_len": 5, "max_len": 2})


# ----------------------------------------------------------------------------- Hershey lines as images
def test_hershey_offline_renders_writer_disjoint_lines(tmp_path: Path) -> None:
    pytest.importorskip("HersheyFonts", reason="the hershey-fonts package is not installed")
    from seqlabel.corpora.hershey_offline import render_strokes

    options = {"num_train": 6, "num_dev": 2, "num_test": 2, "train_writers": 3, "dev_writers": 1,
               "test_writers": 1, "pen_width": [0.1, 0.2], "core_px": 10}
    paths = run_recipe("hershey_offline", None, tmp_path / "out", options)
    groups = [speakers(paths[s]) for s in ("train", "dev", "test")]
    assert [len(g) for g in groups] == [3, 1, 1] and not (groups[0] & (groups[1] | groups[2]))
    for utt in read_manifest(paths["train"]):
        assert set(utt.text) <= set("abcdefghijklmnopqrstuvwxyz ") and " " in utt.text
        ink = 1 - np.asarray(Image.open(utt.source), dtype=np.float32) / 255
        assert 30 <= ink.shape[0] <= 80 and ink.shape[1] > 60 and 0.02 < ink.mean() < 0.4
    rows = (tmp_path / "out" / "writers.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0].endswith("pen_width") and all(0.1 <= float(r.split("\t")[-1]) <= 0.2 for r in rows[1:])
    again = run_recipe("hershey_offline", None, tmp_path / "again", options)
    assert texts(again["test"]) == texts(paths["test"])
    stroke = [np.array([[0.0, 0.0], [3.0, 0.0]])]  # a horizontal bar 3 core heights long
    thin, thick = render_strokes(stroke, 10, 0.1), render_strokes(stroke, 10, 0.4)
    assert thin.shape == thick.shape == (20, 50)  # (2 x 5 core heights with the margin) x 10 pixels
    assert thick.sum() > 3 * thin.sum() and thin.max() >= 0.5  # a one-pixel pen may straddle two rows
    with pytest.raises(ConfigError, match="pen_width"):
        run_recipe("hershey_offline", None, tmp_path / "bad", {"pen_width": [0.3, 0.1]})


# ----------------------------------------------------------------------------- Caroline (real data)
def test_caroline_minuscule_manuscript_disjoint(shared_data: Path, tmp_path: Path) -> None:
    data = shared_data / "caroline"
    if not data.is_dir():
        pytest.skip(f"Caroline Minuscule ground truth not found at {data}")
    paths = run_recipe("lines", data, tmp_path / "out", {})
    utts = {s: read_manifest(p) for s, p in paths.items()}
    assert sum(len(u) for u in utts.values()) == 340
    groups = {s: {u.speaker for u in us} for s, us in utts.items()}
    assert len(set().union(*groups.values())) == 15
    assert all(not (groups[a] & groups[b]) for a in groups for b in groups if a < b)
    assert 2 <= len(groups["test"]) <= 3 and 1 <= len(groups["dev"]) <= 2
    assert all(unicodedata.is_normalized("NFC", u.text) for us in utts.values() for u in us)
    assert "Unicode normalization NFC" in (tmp_path / "out" / "prepare.txt").read_text(encoding="utf-8")
    vocab = Vocab.load(tmp_path / "out" / "tokens.txt")
    for u in utts["test"]:
        vocab.encode(u.text, u.id)  # every test character has an output class
    extractor = build_extractor(FeatureConfig(type="image", cmvn="none", image=ImageFeatureConfig(height=48)))
    feats = extractor(utts["test"][0])
    assert feats.shape[1] == 48 and 0.0 <= float(feats.min()) and float(feats.max()) <= 1.0
    assert 0.01 < float(feats.mean()) < 0.5  # ink on paper: binarised lines are mostly paper
