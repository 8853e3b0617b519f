"""The HTML evaluation report opened in headless Chromium (driven over the DevTools protocol, see
tests/cdp.py): summary numbers equal summary.json, the table sorts, filters and pages, an utterance
view shows the scorer's S/D/I counts, its input loads (audio, line image, pen strokes as SVG), the
posteriorgram shows, transcripts holding HTML stay text, comparison mode, no failed loads or script
errors; screenshots are saved in the test's folder and checked not to be blank.

Skipped without Chromium (Debian package ``chromium``; .ci/run installs it).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from cdp import Browser, find_chromium
from test_html_report import EVIL, HYPS, REFS, eval_folder

from seqlabel import api
from seqlabel.scoring.evaluation import score_tokens
from seqlabel.scoring.posteriors import read_posteriors

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package chromium, installed by "
                                                         ".ci/run; or SEQLABEL_CHROMIUM=/path) to open the report")


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as b:
        yield b


def open_report(b: Browser, index: Path, utt: str | None = None) -> None:
    b.events.clear()
    b.open("about:blank")
    b.open(index.resolve().as_uri() + ("" if utt is None else f"#utt={utt}"))
    assert b.until(f"document.body.dataset.ready == '{'index' if utt is None else 'utt'}'"), "page never got ready"


def show(b: Browser, utt: str) -> None:
    b.js("document.body.removeAttribute('data-ready')")
    b.js(f"location.hash = 'utt=' + encodeURIComponent({json.dumps(utt)})")
    assert b.until("document.body.dataset.ready == 'utt'"), f"utterance view of {utt} never got ready"


def not_blank(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as im:
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.005, f"{path} looks blank"


def table_column(b: Browser, key: str) -> list[str]:
    return b.js(f"Array.from(document.querySelectorAll('#utt-body td[data-key={key}]')).map(td => td.textContent)")


def set_filter(b: Browser, element: str, value: str | bool) -> None:
    prop = "checked" if isinstance(value, bool) else "value"
    b.js(f"(() => {{ const e = document.getElementById({json.dumps(element)}); e.{prop} = {json.dumps(value)};"
         "e.dispatchEvent(new Event('change')); })()")


def view_counts(b: Browser, system: int = 0) -> dict[str, int]:
    return b.js(f"Object.fromEntries(Array.from(document.querySelectorAll('section.system[data-sys=\"{system}\"] "
                "table.counts td[data-field]')).map(td => [td.dataset.field, td.textContent]))")


def summary_matches(b: Browser, summary: dict, system: int = 0, level: str = "tokens") -> None:
    fields = b.js(f"Object.fromEntries(Array.from(document.querySelectorAll('tr.rate-row[data-sys=\"{system}\"]"
                  f"[data-level=\"{level}\"] [data-field]')).map(td => [td.dataset.field, td.textContent]))")
    s = summary[level]
    for key in ("substitutions", "deletions", "insertions", "errors", "ref_tokens", "correct", "utterances"):
        assert fields[key] == str(s[key]), (key, fields)
    assert fields["rate"] == f"{100 * s['rate']:.2f}%"
    assert fields["ci"] == f"95% CI {100 * s['ci']['low']:.2f}-{100 * s['ci']['high']:.2f}%"


# ---- speech ---------------------------------------------------------------------------------------
def test_speech_report(phone_run: dict, browser: Browser, tmp_path: Path) -> None:
    import soundfile

    from seqlabel.data.manifest import read_manifest

    b = browser
    out = tmp_path / "eval"
    report = api.evaluate(phone_run["checkpoint"], phone_run["dev"], out, device="cpu", progress=False,
                          keep_posteriors=True, html=True)
    index = out / "report" / "index.html"
    open_report(b, index)
    summary_matches(b, json.loads((out / "summary.json").read_text()))
    b.screenshot(tmp_path / "index.png")
    not_blank(tmp_path / "index.png")

    utts = report.tokens.utterances
    rates = [u.stats.rate for u in utts]
    shown = [float(x) for x in table_column(b, "rate")]  # default: highest error rate first
    assert shown == sorted(shown, reverse=True) and len(shown) == len(utts)
    assert shown == sorted((round(100 * r, 2) for r in rates), reverse=True)
    b.js("document.querySelector('th[data-key=rate]').click()")
    assert [float(x) for x in table_column(b, "rate")] == sorted(shown)
    b.js("document.querySelector('th[data-key=id]').click()")
    ids = b.js("Array.from(document.querySelectorAll('#utt-body tr')).map(tr => tr.querySelector('a').textContent)")
    assert ids == sorted(u.id for u in utts)

    set_filter(b, "q", "zh")
    expected = [u.id for u in utts if "zh" in " ".join(u.ref) or "zh" in " ".join(u.hyp) or "zh" in u.id]
    assert b.js("document.querySelectorAll('#utt-body tr').length") == len(expected) > 0
    assert b.js("document.getElementById('count').textContent") == f"{len(expected)} of {len(utts)} utterances"
    set_filter(b, "q", "")
    speakers = b.js("Array.from(document.getElementById('speaker').options).map(o => o.textContent)")
    set_filter(b, "speaker", str(speakers.index("spk1") - 1))
    assert set(table_column(b, "spk")) == {"spk1"}
    set_filter(b, "speaker", "")

    worst = max(utts, key=lambda u: (u.stats.errors, u.id))
    show(b, worst.id)
    counts = view_counts(b)
    s = worst.stats
    assert (counts["sub"], counts["del"], counts["ins"], counts["correct"]) == tuple(
        str(x) for x in (s.substitutions, s.deletions, s.insertions, s.hits))
    ops = b.js("Array.from(document.querySelectorAll('section.system .align:not(.words) .col'))"
               ".map(c => c.dataset.op).join('')")
    assert ops == worst.ops
    assert b.until("document.getElementById('utt-audio').readyState >= 1")
    duration = b.js("document.getElementById('utt-audio').duration")
    source = next(u.source for u in read_manifest(phone_run["dev"]) if u.id == worst.id)
    assert math.isclose(duration, soundfile.info(source).duration, abs_tol=0.01)
    assert b.until("document.querySelector('.posteriorgram img').complete")
    width = b.js("document.querySelector('.posteriorgram img').naturalWidth")
    post = read_posteriors(out / "posteriors.npz")
    assert width == len(post.log_probs_of(post.ids.index(worst.id))) > 0
    caption = b.js("document.querySelector('#utt-view figure figcaption').textContent")
    assert caption.startswith(f"{width} output frames")
    assert b.js("document.querySelectorAll('.align .conf').length") == len(worst.hyp)
    b.screenshot(tmp_path / "utterance.png")
    not_blank(tmp_path / "utterance.png")
    assert b.problems() == []

    # copied into the report (media/), or inside one self-contained page
    for name, single in (("copied", False), ("single", True)):
        index = api.report_html(out, tmp_path / name, copy_media=True, single_file=single)
        open_report(b, index, worst.id)
        src = b.js("document.getElementById('utt-audio').getAttribute('src')")
        assert src.startswith("data:audio/wav;base64," if single else "media/")
        assert b.until("document.getElementById('utt-audio').readyState >= 1")
        assert math.isclose(b.js("document.getElementById('utt-audio').duration"), duration, abs_tol=0.01)
    assert b.problems() == []


# ---- handwriting ----------------------------------------------------------------------------------
def test_line_image_report_written_by_train(image_run: dict, browser: Browser, tmp_path: Path) -> None:
    from PIL import Image

    from seqlabel.data.manifest import read_manifest

    b = browser
    folder = image_run["run"] / "test"
    index = folder / "report" / "index.html"
    open_report(b, index)
    summary = json.loads((folder / "summary.json").read_text())
    summary_matches(b, summary)
    summary_matches(b, summary, level="words")
    assert b.js("document.querySelector('#speakers h2').textContent").startswith("Writers")
    report = score_tokens(*_kaldi(folder), "char", "|")
    sources = {u.id: u.source for u in read_manifest(image_run["test"])}
    for u in report.tokens.utterances:
        show(b, u.id)
        counts = view_counts(b)
        assert (counts["sub"], counts["del"], counts["ins"]) == tuple(
            str(x) for x in (u.stats.substitutions, u.stats.deletions, u.stats.insertions))
        assert b.until("document.getElementById('utt-image').complete")
        assert b.js("document.getElementById('utt-image').naturalWidth") == Image.open(sources[u.id]).size[0]
    b.screenshot(tmp_path / "utterance.png")
    not_blank(tmp_path / "utterance.png")
    assert b.problems() == []


def _kaldi(folder: Path) -> tuple[dict, dict]:
    from seqlabel.data.transcripts import read_kaldi_text

    return read_kaldi_text(folder / "ref.txt"), read_kaldi_text(folder / "hyp.txt")


def test_pen_strokes_are_drawn_as_svg(strokes_run: dict, browser: Browser, tmp_path: Path) -> None:
    from seqlabel.data.manifest import read_manifest
    from seqlabel.features.strokes import read_strokes

    b = browser
    index = strokes_run["run"] / "test" / "report" / "index.html"
    open_report(b, index)
    for utt in read_manifest(strokes_run["test"]):
        show(b, utt.id)
        drawn = b.js("document.querySelectorAll('#utt-media svg.strokes polyline').length")
        assert drawn == len(read_strokes(utt.source))
        box = b.js("(() => { const r = document.querySelector('#utt-media svg.strokes').getBoundingClientRect();"
                   " return [r.width, r.height]; })()")
        assert box[0] > 100 and box[1] > 20
    b.screenshot(tmp_path / "strokes.png")
    not_blank(tmp_path / "strokes.png")
    assert b.problems() == []


# ---- escaping, single file, comparison ----------------------------------------------------------------
@pytest.mark.parametrize("single_file", [False, True])
def test_transcripts_holding_html_are_shown_as_text(browser: Browser, tmp_path: Path, single_file: bool) -> None:
    from seqlabel.scoring.html import ReportOptions, build_report

    b = browser
    folder = eval_folder(tmp_path / "eval", REFS, HYPS)
    index = build_report([folder], tmp_path / "report", options=ReportOptions(single_file=single_file))
    open_report(b, index)
    scripts = b.js("document.scripts.length")
    set_filter(b, "q", "pwned")
    assert b.js("document.querySelectorAll('#utt-body tr').length") == 1
    assert b.js("document.querySelector('#utt-body td.text .ref').textContent") == f"hello {EVIL}"
    show(b, "s2-c")
    assert b.js("document.querySelector('.ref-text').textContent") == f"hello {EVIL}"
    assert b.js("document.querySelector('.hyp-text').textContent") == "hello </script> <b>x</b>"
    shown = b.js("Array.from(document.querySelectorAll('.align .col .r')).map(e => e.textContent)")
    assert [t for t in shown if t != "*"] == ["hello", EVIL]
    assert b.js("typeof window.__pwned") == "undefined" and b.js("document.scripts.length") == scripts
    assert b.problems() == []


def test_comparison_report(browser: Browser, tmp_path: Path) -> None:
    from seqlabel.scoring.evaluation import compare_files

    b = browser
    refs = {f"s{k % 3}-u{k}": "a b c d e".split() for k in range(12)}
    a = eval_folder(tmp_path / "a", refs, {u: ("a x c d e" if k % 2 else "a b c").split()
                                           for k, u in enumerate(refs)})
    bb = eval_folder(tmp_path / "b", refs, {u: ("a b c d" if k % 3 else "a b c d e").split()
                                            for k, u in enumerate(refs)})
    index = api.report_html(a, tmp_path / "cmp", compare=bb)
    open_report(b, index)
    expected = compare_files(a / "ref.txt", a / "hyp.txt", bb / "hyp.txt", unit="word")
    p = b.js("document.querySelector('#comparison .cmp-p').textContent")
    assert p == f"p = {expected.tokens.p_value:.4f}"
    summary_matches(b, json.loads((a / "summary.json").read_text()), system=0)
    summary_matches(b, json.loads((bb / "summary.json").read_text()), system=1)
    ea = {u.id: u.stats.errors for u in score_tokens(*_kaldi(a), "word", "|").tokens.utterances}
    eb = {u.id: u.stats.errors for u in score_tokens(refs, _kaldi(bb)[1], "word", "|").tokens.utterances}
    b.js("document.querySelector('.change-link[data-change=better]').click()")
    better = sorted(table_column(b, "delta"))
    assert len(better) == sum(eb[u] < ea[u] for u in refs) > 0 and all(d.startswith("-") for d in better)
    show(b, next(u for u in refs if eb[u] < ea[u]))
    assert b.js("document.querySelectorAll('section.system').length") == 2
    b.screenshot(tmp_path / "compare.png")
    not_blank(tmp_path / "compare.png")
    assert b.problems() == []


# ---- a tiny online-handwriting model ----------------------------------------------------------------
@pytest.fixture(scope="module")
def strokes_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from report_fixtures import stroke_lines, tiny_run

    root = tmp_path_factory.mktemp("strokes_run")
    train = stroke_lines(root, ["ab", "ba", "aab", "bba", "abab", "ab ba", "a b", "bab"], "tr")
    test = stroke_lines(root, ["aba", "b ab"], "te")
    tiny_run(root, train, test, {"type": "strokes", "cmvn": "global", "strokes": {"step": 0.5, "context": 0}})
    return {"run": root / "exp", "test": test}
