"""The IAM-OnDB recipe on a small generated tree with the real file names and formats:
lineStrokes XML, ascii files with OCR/CSR sections, original/ writer files, task split files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stroke_fixtures import IAM_XML, handwriting, iam_xml

from seqlabel.config import FeatureConfig
from seqlabel.corpora import run_recipe
from seqlabel.corpora.iam_ondb import read_csr
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import DataError
from seqlabel.features import build_extractor

# form -> (writer id or None when original/ has no file for it, transcript lines)
FORMS = {
    "a01-000u": ("10039", ["A MOVE to stop Mr. Gaitskell from", "nominating any more Labour"]),
    "a01-001w": ("10039", ["life Peers is to be made"]),
    "b02-030": (None, ["at a meeting of Labour", "M Ps tomorrow ."]),
    "c03-003z": ("10071", ["Sir Roy's United Federal"]),
    "d04-081": ("10075", ["Party is being"]),
    "e05-265u": ("10160", ["told in", "Salisbury", "that"]),
}
TASKS = {"trainset.txt": ["a01-000u", "a01-001w", "b02-030"], "testset_v.txt": ["c03-003z"],
         "testset_t.txt": ["d04-081"], "testset_f.txt": ["e05-265u"]}


def folder(root: Path, form: str) -> Path:
    return root / form.split("-")[0] / (form[:-1] if form[-1].isalpha() else form)


def write_tree(root: Path, strokes_dir: str = "lineStrokes", tasks_dir: str = ".") -> Path:
    for k, (form, (writer, lines)) in enumerate(FORMS.items()):
        for i in range(len(lines)):
            path = folder(root / strokes_dir, form) / f"{form}-{i + 1:02d}.xml"
            path.parent.mkdir(parents=True, exist_ok=True)
            strokes = [np.column_stack([s[:, :2], s[:, 2] + 1000.0 * k]) for s in handwriting(seed=k + i)]
            path.write_text(iam_xml(strokes), encoding="latin-1")
        text = folder(root / "ascii", form) / f"{form}.txt"
        text.parent.mkdir(parents=True, exist_ok=True)
        text.write_text("OCR:\n\n" + "\n".join(line.upper() for line in lines) + "\n\nCSR:\n\n"
                        + "\n".join(lines) + "\n", encoding="latin-1")
        if writer is not None:
            variant = form[-1] if form[-1].isalpha() else ""
            orig = folder(root / "original", form) / f"strokes{variant}.xml"
            orig.parent.mkdir(parents=True, exist_ok=True)
            orig.write_text(f'<?xml version="1.0"?>\n<WhiteboardCaptureSession><General>'
                            f'<Form id="{form}" writerID="{writer}" WriterNumber="1"/></General>'
                            f"<StrokeSet/></WhiteboardCaptureSession>\n", encoding="latin-1")
    for name, forms in TASKS.items():
        (root / tasks_dir).mkdir(parents=True, exist_ok=True)
        (root / tasks_dir / name).write_text("\n".join(forms) + "\n", encoding="utf-8")
    return root


def test_splits_ids_transcripts_and_writers(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "iam")
    paths = run_recipe("iam_ondb", root, tmp_path / "out", {})
    splits = {split: read_manifest(path) for split, path in paths.items()}
    assert {s: [u.id for u in utts] for s, utts in splits.items()} == {
        "train": ["a01-000u-01", "a01-000u-02", "a01-001w-01", "b02-030-01", "b02-030-02"],
        "dev": ["c03-003z-01", "d04-081-01"],
        "test": ["e05-265u-01", "e05-265u-02", "e05-265u-03"],
    }
    by_id = {u.id: u for utts in splits.values() for u in utts}
    assert by_id["a01-000u-01"].text == "A MOVE to stop Mr. Gaitskell from"
    assert by_id["e05-265u-02"].text == "Salisbury"
    assert by_id["a01-001w-01"].speaker == "10039" and by_id["b02-030-02"].speaker == "b02-030"
    assert Path(by_id["d04-081-01"].source).name == "d04-081-01.xml"
    assert all(u.duration and u.duration > 0 for u in by_id.values())
    feats = build_extractor(FeatureConfig(type="strokes"))(by_id["c03-003z-01"])
    assert feats.shape[1] == 15 and feats.shape[0] > 50


def test_unpacked_archive_folders_and_a_task_folder_are_found(tmp_path: Path) -> None:
    root = tmp_path / "iam"
    write_tree(root, strokes_dir="lineStrokes-all/lineStrokes", tasks_dir="task1")
    paths = run_recipe("iam_ondb", root, tmp_path / "out", {})
    assert len(read_manifest(paths["train"])) == 5


def test_csr_section_is_the_transcript(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("OCR:\n\nTHE  OCR TEXT\n\nCSR:\n\nthe   real text\nsecond line\n\n", encoding="latin-1")
    assert read_csr(path) == ["the real text", "second line"]
    path.write_text("just text\n")
    with pytest.raises(DataError, match="no 'CSR:' section"):
        read_csr(path)


def test_a_line_without_transcript_is_skipped_with_a_note(tmp_path: Path, capsys) -> None:
    root = write_tree(tmp_path / "iam")
    extra = folder(root / "lineStrokes", "b02-030") / "b02-030-03.xml"
    extra.write_text(iam_xml(handwriting()), encoding="latin-1")
    paths = run_recipe("iam_ondb", root, tmp_path / "out", {})
    assert "b02-030-03" not in {u.id for u in read_manifest(paths["train"])}
    assert "b02-030-03.xml: line 3 but b02-030.txt has 2 CSR lines" in capsys.readouterr().err


def test_a_stroke_file_without_strokes_is_refused_naming_it(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "iam")
    bad = folder(root / "lineStrokes", "c03-003z") / "c03-003z-01.xml"
    bad.write_text(IAM_XML.format(strokes=""), encoding="latin-1")
    with pytest.raises(DataError, match=r"c03-003z-01\.xml: holds no strokes"):
        run_recipe("iam_ondb", root, tmp_path / "out", {})


def test_missing_task_file_and_folders_are_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "iam")
    (root / "testset_f.txt").unlink()
    with pytest.raises(DataError, match="task file testset_f.txt not found"):
        run_recipe("iam_ondb", root, tmp_path / "out", {})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no lineStrokes/ folder"):
        run_recipe("iam_ondb", tmp_path / "empty", tmp_path / "out", {})
    (root / "testset_f.txt").write_text("e05-265u\nnot-a-form\n")
    with pytest.raises(DataError, match="not IAM-OnDB form ids: not-a-form"):
        run_recipe("iam_ondb", root, tmp_path / "out", {})
