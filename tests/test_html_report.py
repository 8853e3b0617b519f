"""The HTML evaluation report without a browser (seqlabel.scoring.html, ``seqlabel report``,
``evaluate --html --keep-posteriors``): what goes into the page, escaping, the folder checks and their
messages, media links and conversions, comparison mode. tests/test_html_report_browser.py opens the
reports in headless Chromium."""
from __future__ import annotations

import base64
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import invoke, ok, refused

from seqlabel.data.transcripts import write_kaldi_text
from seqlabel.errors import DataError
from seqlabel.scoring.evaluation import compare_files, score_tokens, write_reports
from seqlabel.scoring.html import ReportOptions, build_report
from seqlabel.scoring.html.folder import EvalInfo, load_folder, write_info
from seqlabel.scoring.html.media import MediaPlanner, relative_url
from seqlabel.scoring.html.payload import LEVELS, palette_png, posteriorgram, script_json
from seqlabel.scoring.posteriors import read_posteriors, write_posteriors
from seqlabel.types import Hypothesis, Utterance

EVIL = "<script>window.__pwned=1</script>"


def eval_folder(root: Path, refs: dict[str, list[str]], hyps: dict[str, list[str]], unit: str = "word",
                manifest: Path | None = None, features: str | None = None, known: list[str] | None = None) -> Path:
    """A folder as ``seqlabel evaluate --out`` writes it, from token sequences (``known``: the model's tokens)."""
    report = score_tokens(refs, hyps, unit, "|", speakers={u: u.split("-")[0] for u in refs}, known=known)
    write_kaldi_text(root / "ref.txt", refs.items())
    write_kaldi_text(root / "hyp.txt", hyps.items())
    write_reports(root, report)
    write_info(root, EvalInfo("char" if unit == "char" else unit, "|", None,
                              None if manifest is None else str(manifest.resolve()), "model.pt", features, "greedy"))
    return root


def page_data(index: Path) -> dict:
    html = index.read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="seq-data">(.*?)</script>', html, re.S)
    assert found, "no data element"
    return json.loads(found.group(1))


REFS = {"s1-a": "the cat sat".split(), "s1-b": "on the mat".split(), "s2-c": ["hello", EVIL]}
HYPS = {"s1-a": "the cat sat".split(), "s1-b": "on a mat mat".split(), "s2-c": ["hello", "</script>", "<b>x</b>"]}


# ---- escaping ----------------------------------------------------------------------------------------
def test_script_json_leaves_no_closing_tag_comment_or_line_separator_and_round_trips() -> None:
    value = {"t": ["</script><script>alert(1)</script>", "<!--", "a & b", "\u2028\u2029", "é"]}
    text = script_json(value)
    for bad in ("</", "<!--", "<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert json.loads(text) == value
    assert "é" in text  # non-ASCII stays readable


def test_transcripts_with_html_are_escaped_everywhere_in_the_page(tmp_path: Path) -> None:
    folder = eval_folder(tmp_path / "eval", REFS, HYPS)
    index = build_report([folder], tmp_path / "report")
    html = index.read_text(encoding="utf-8")
    assert EVIL not in html and "</script><" not in html.replace("</script>\n<", "")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html  # the confusion tables, as text
    data = page_data(index)
    assert EVIL in data["u"]["ref"][data["u"]["id"].index("s2-c")]  # the page gets the exact token back


# ---- what the page holds -----------------------------------------------------------------------------
def test_page_data_carry_the_scorers_alignment_and_summary_counts(tmp_path: Path) -> None:
    folder = eval_folder(tmp_path / "eval", REFS, HYPS)
    index = build_report([folder], tmp_path / "report")
    data = page_data(index)
    report = score_tokens(REFS, HYPS, "word", "|")
    assert data["u"]["id"] == list(REFS)
    assert data["sys"][0]["ops"] == [u.ops for u in report.tokens.utterances]
    assert sorted(data["sys"][0]["ops"][1]) == sorted("CCSI")  # on the mat -> on a mat mat: 1 sub, 1 ins
    assert [data["speakers"][k] for k in data["u"]["spk"]] == ["s1", "s1", "s2"]
    summary = json.loads((folder / "summary.json").read_text())["tokens"]
    html = index.read_text(encoding="utf-8")
    for field in ("substitutions", "deletions", "insertions", "errors", "ref_tokens"):
        assert f'data-field="{field}">{summary[field]}<' in html
    assert f'data-field="rate">{100 * summary["rate"]:.2f}%<' in html
    assert (tmp_path / "report" / "assets" / "report.js").is_file()


def test_unicode_forms_and_unknown_reference_tokens_are_as_evaluate_scored_them(tmp_path: Path) -> None:
    refs = {"u-1": list("cafe\u0301"), "u-2": list("ab")}  # NFD in the reference, NFC in the hypothesis
    hyps = {"u-1": list("caf\u00e9"), "u-2": list("ab")}
    folder = eval_folder(tmp_path / "eval", refs, hyps, unit="char", known=list("abcf\u00e9"))
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["tokens"]["errors"] == 0  # one normal form on both sides
    html = build_report([folder], tmp_path / "report").read_text(encoding="utf-8")
    assert summary["unknown_reference_tokens"] is None or summary["unknown_reference_tokens"]["note"] in html
    folder = eval_folder(tmp_path / "eval2", {"u-1": list("xab")}, {"u-1": list("ab")}, unit="char", known=list("ab"))
    note = json.loads((folder / "summary.json").read_text())["unknown_reference_tokens"]["note"]
    assert note and note.replace("'", "&#39;") in build_report([folder], tmp_path / "r2").read_text(encoding="utf-8")


def test_character_reports_carry_word_alignments_too(tmp_path: Path) -> None:
    refs = {"u-1": list("ab|cd"), "u-2": list("x")}
    hyps = {"u-1": list("ab|ce"), "u-2": list("y|z")}
    folder = eval_folder(tmp_path / "eval", refs, hyps, unit="char")
    data = page_data(build_report([folder], tmp_path / "report"))
    assert data["unit"] == "char" and data["wordRateName"] == "WER"
    words = score_tokens(refs, hyps, "char", "|").words
    assert data["u"]["wref"] == ["ab cd", "x"] and data["sys"][0]["whyp"] == ["ab ce", "y z"]
    assert data["sys"][0]["wops"] == [u.ops for u in words.utterances] and data["sys"][0]["wops"][0] == "CS"


def test_single_file_report_inlines_assets_and_details(tmp_path: Path) -> None:
    folder = eval_folder(tmp_path / "eval", REFS, HYPS)
    hyps = [Hypothesis(u, tuple(HYPS[u]), token_confidences=(0.5,) * len(HYPS[u]),
                       timesteps=tuple(range(len(HYPS[u]))), durations=(1,) * len(HYPS[u])) for u in REFS]
    lps = [np.log(np.full((4, 3), 1 / 3)) for _ in REFS]
    write_posteriors(folder / "posteriors.npz", hyps, lps, ["<blank>", "a", "b"], 0.04)
    index = build_report([folder], tmp_path / "one", options=ReportOptions(single_file=True))
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["index.html"]
    html = index.read_text(encoding="utf-8")
    assert 'id="seq-chunk-0"' in html and "<style>" in html and 'src="assets/' not in html
    assert page_data(index)["sys"][0]["conf"] == [0.5, 0.5, 0.5]


def test_static_files_hold_no_closing_tag_so_they_can_be_inlined() -> None:
    static = Path(__file__).resolve().parents[1] / "seqlabel" / "scoring" / "html" / "static"
    for name in ("report.js", "report.css"):
        assert "</" not in (static / name).read_text(encoding="utf-8"), name


def test_posteriorgram_rows_and_png_round_trip() -> None:
    p = np.full((5, 4), 0.001)
    p[:, 0] = 0.997
    p[2] = [0.1, 0.899, 0.0005, 0.0005]
    out = posteriorgram(np.log(p), ["<blank>", "a", "b", "c"])
    assert out["rows"] == ["<blank>", "a"] and out["T"] == 5
    png = base64.b64decode(out["png"])
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        assert im.size == (5, 2) and im.mode == "P"
        shades = np.asarray(im)
    assert shades[0, 0] == LEVELS - 1 and shades[1, 2] == round(0.899 * (LEVELS - 1)) and shades[1, 0] == 0
    raw = palette_png(np.zeros((1, 1), np.uint8))
    assert raw.startswith(b"\x89PNG") and zlib.crc32(raw[-8:-4]) == int.from_bytes(raw[-4:], "big")


# ---- posteriors kept by evaluate -------------------------------------------------------------------
def test_posteriors_round_trip_and_refuse_a_foreign_file(tmp_path: Path) -> None:
    hyps = [Hypothesis("u1", ("a", "b"), timesteps=(1, 3), durations=(1, 2), token_confidences=(0.9, 0.25)),
            Hypothesis("u2", ())]
    lps = [np.log(np.full((4, 3), 1 / 3)), np.zeros((0, 3))]
    path = write_posteriors(tmp_path / "posteriors.npz", hyps, lps, ["<blank>", "a", "b"], 0.03)
    post = read_posteriors(path)
    assert post.ids == ("u1", "u2") and post.tokens == ("<blank>", "a", "b") and post.frame_seconds == 0.03
    assert post.log_probs.dtype == np.float16
    assert post.log_probs_of(0).shape == (4, 3) and post.log_probs_of(1).shape == (0, 3)
    conf, starts, durs = post.tokens_of(0)
    assert np.allclose(conf, [0.9, 0.25], atol=1e-3) and starts.tolist() == [1, 3] and durs.tolist() == [1, 2]
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(DataError, match="other.npz: not a seqlabel posteriors file.*--keep-posteriors"):
        read_posteriors(tmp_path / "other.npz")


def test_evaluate_keeps_posteriors_and_writes_the_report(phone_run: dict, tmp_path: Path) -> None:
    from seqlabel.data.manifest import read_manifest
    from seqlabel.inference.recognizer import Recognizer

    out = tmp_path / "eval"
    result = ok(invoke("evaluate", phone_run["checkpoint"], phone_run["dev"], "--out", out, "--device", "cpu",
                       "--keep-posteriors", "--html"))
    assert f"report: {out / 'report' / 'index.html'}" in result.output
    post = read_posteriors(out / "posteriors.npz")
    recognizer = Recognizer.from_checkpoint(phone_run["checkpoint"], "cpu")
    utts = read_manifest(phone_run["dev"])
    expected = recognizer.log_probs(utts)
    hyps = recognizer.transcribe(utts)
    for k, (lp, h) in enumerate(zip(expected, hyps)):
        assert post.ids[k] == h.id
        assert np.allclose(post.log_probs_of(k).astype(np.float32), lp, atol=2e-2)
        assert np.allclose(post.tokens_of(k)[0], h.token_confidences, atol=1e-3)
    info = json.loads((out / "evaluation.json").read_text())
    assert info["manifest"] == str(Path(phone_run["dev"]).resolve()) and info["features"] == "fbank"
    data = page_data(out / "report" / "index.html")
    assert data["u"]["mk"] == ["audio"] * len(utts) and all(s.endswith(".wav") for s in data["u"]["src"])
    assert (out / "report" / "data" / "chunk-0000.js").read_text().startswith("SEQ_CHUNK(0,")
    # evaluating again without --keep-posteriors removes the stale file, and says the report is out of date
    again = ok(invoke("evaluate", phone_run["checkpoint"], phone_run["dev"], "--out", out, "--device", "cpu"))
    assert not (out / "posteriors.npz").exists()
    assert f"{out / 'report'} holds the HTML report of an earlier evaluation" in again.output, again.output
    rebuilt = ok(invoke("evaluate", phone_run["checkpoint"], phone_run["dev"], "--out", out, "--device", "cpu",
                        "--keep-posteriors", "--html"))
    assert "an earlier evaluation" not in rebuilt.output  # --html rebuilds it: nothing to say


def test_folded_phones_are_shown_as_scored(phone_run: dict, tmp_path: Path) -> None:
    from seqlabel import api

    out = tmp_path / "eval"
    report = api.evaluate(phone_run["checkpoint"], phone_run["dev"], out, device="cpu", progress=False,
                          fold="timit39", html=True)
    data = page_data(out / "report" / "index.html")
    assert data["rateName"] == "PER (timit39)"
    assert data["u"]["ref"] == [" ".join(u.ref) for u in report.tokens.utterances]
    assert not {"q", "zh", "ao"} & {t for r in data["u"]["ref"] for t in r.split()}  # folded: q deleted, zh->sh, ao->aa
    assert "sh" in " ".join(data["u"]["ref"])


def test_train_ends_with_the_test_sets_report(image_run: dict) -> None:
    index = image_run["run"] / "test" / "report" / "index.html"
    assert f"test report: {index}" in image_run["messages"]
    data = page_data(index)
    assert data["u"]["mk"] == ["image"] * 3 and data["speakerLabel"] == "Writer"
    assert data["sys"][0]["conf"] is not None and data["chunks"] == 1  # train keeps the posteriors


# ---- bad input -----------------------------------------------------------------------------------
def test_bad_folders_are_refused_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    refused(invoke("report", tmp_path / "nope"), "evaluation folder not found", "seqlabel evaluate")
    scored = tmp_path / "scored"
    write_kaldi_text(tmp_path / "r.txt", REFS.items())
    write_kaldi_text(tmp_path / "h.txt", HYPS.items())
    ok(invoke("score", tmp_path / "r.txt", tmp_path / "h.txt", "--unit", "word", "--out", scored))
    refused(invoke("report", scored), f"{scored} has no ref.txt", "re-run evaluate")
    folder = eval_folder(tmp_path / "eval", REFS, HYPS)
    write_kaldi_text(folder / "hyp.txt", {**HYPS, "s1-a": ["dog"]}.items())
    refused(invoke("report", folder), "summary.json (tokens) does not match ref.txt/hyp.txt", "re-run")
    (folder / "summary.json").write_text("{", encoding="utf-8")
    refused(invoke("report", folder), "summary.json: not valid JSON")
    refused(invoke("evaluate", "m.pt", "x.jsonl", "--html"), "--out DIR")


def test_stale_posteriors_and_wrong_manifest_are_refused(tmp_path: Path) -> None:
    folder = eval_folder(tmp_path / "eval", REFS, HYPS)
    write_posteriors(folder / "posteriors.npz", [Hypothesis("zz", ())], [np.zeros((1, 2))], ["<blank>", "a"], 0.01)
    with pytest.raises(DataError, match="posteriors.npz holds other utterances.*delete it"):
        load_folder(folder)
    (folder / "posteriors.npz").unlink()
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "x", "source": "x.wav", "text": "a"}) + "\n", encoding="utf-8")
    refused(invoke("report", folder, "--manifest", other), "none of the utterances", "--manifest")
    refused(invoke("report", folder, "--out", folder), "would overwrite the evaluation folder")


# ---- media ---------------------------------------------------------------------------------------
def test_media_are_linked_relatively_or_copied_and_converted(tmp_path: Path) -> None:
    import soundfile
    from PIL import Image

    data = tmp_path / "data dir"
    data.mkdir()
    soundfile.write(str(data / "a b.wav"), np.zeros(800), 8000)
    soundfile.write(str(data / "c.sph"), 0.1 * np.ones(1600), 8000, format="NIST", subtype="PCM_16")
    Image.new("L", (30, 10), 255).save(data / "line.tif")
    out = tmp_path / "report"
    out.mkdir()
    linked = MediaPlanner(out, None)
    assert linked.plan(0, Utterance("u", str(data / "a b.wav"), "")).src == "../data%20dir/a%20b.wav"
    segment = linked.plan(1, Utterance("u", str(data / "a b.wav"), "", start=0.01, end=0.05))
    assert segment.src.endswith("a%20b.wav#t=0.01,0.05")
    assert "--copy-media" in linked.plan(2, Utterance("u", str(data / "c.sph"), "")).note
    assert "--copy-media" in linked.plan(3, Utterance("u", str(data / "line.tif"), "")).note
    assert linked.plan(4, Utterance("u", str(data / "gone.wav"), "")).note.startswith("file not found")
    copied = MediaPlanner(out, None, copy=True)
    sph = copied.plan(2, Utterance("u", str(data / "c.sph"), "", start=0.05, end=0.1))
    assert sph.src == "media/000002.wav"
    info = soundfile.info(str(out / "media" / "000002.wav"))
    assert info.samplerate == 8000 and info.frames == 400  # just the segment
    png = copied.plan(3, Utterance("u", str(data / "line.tif"), ""))
    assert png.src == "media/000003.png" and Image.open(out / "media" / "000003.png").size == (30, 10)
    embedded = MediaPlanner(out, None, embed=True).plan(0, Utterance("u", str(data / "a b.wav"), ""))
    assert embedded.src.startswith("data:audio/wav;base64,")
    assert relative_url(data / "a b.wav", data) == "a%20b.wav"


# ---- comparison -------------------------------------------------------------------------------------
def test_comparison_shows_the_significance_test_of_compare_files(tmp_path: Path) -> None:
    refs = {f"s{k % 3}-u{k}": "a b c d e".split() for k in range(12)}
    hyp_a = {u: ("a x c d e" if k % 2 else "a b c d e").split() for k, u in enumerate(refs)}
    hyp_b = {u: "a b c d e".split() for u in refs}
    a = eval_folder(tmp_path / "a", refs, hyp_a)
    b_refs = dict(reversed(list(refs.items())))  # another order of the same set
    b = eval_folder(tmp_path / "b", b_refs, {u: hyp_b[u] for u in b_refs})
    index = build_report([a, b], tmp_path / "cmp")
    html = index.read_text(encoding="utf-8")
    expected = compare_files(a / "ref.txt", a / "hyp.txt", b / "hyp.txt", unit="word")
    assert f"Z = {expected.tokens.statistic:.3f}" in html
    assert "6 better" in html and "0 worse" in html and "6 unchanged" in html
    data = page_data(index)
    assert data["mode"] == "compare" and data["u"]["id"] == list(refs) and len(data["sys"]) == 2
    other = eval_folder(tmp_path / "c", {"s0-u0": ["a"]}, {"s0-u0": ["a"]})
    with pytest.raises(DataError, match="holds other utterances than the first folder"):
        build_report([a, other], tmp_path / "bad")
    ok(invoke("report", a, "--compare", b, "--out", tmp_path / "cli", "--method", "bootstrap"))
    assert "paired bootstrap" in (tmp_path / "cli" / "index.html").read_text(encoding="utf-8")


def test_setup_py_installs_the_template_script_and_style(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    html = tmp_path / "seqlabel" / "scoring" / "html"
    for name in ("templates/report.html.j2", "static/report.js", "static/report.css"):
        assert (html / name).is_file(), name
