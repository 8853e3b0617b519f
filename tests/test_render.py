"""The ``render`` recipe: plain text drawn with fonts as degraded line images. Fast: a few paragraphs,
a handful of lines, small images. Skips when the Debian fonts (fonts-junicode, fonts-cardo) are absent."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from seqlabel.corpora import run_recipe
from seqlabel.cli import main
from seqlabel.config import FeatureConfig, ImageFeatureConfig
from seqlabel.corpora.render.degrade import Look
from seqlabel.corpora.render.draw import missing
from seqlabel.corpora.render.spelling import apply_rules, load_rules, resolve_table, select
from seqlabel.corpora.render.text import Charset, chunk, clean, load_charset
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import ConfigError
from seqlabel.features import build_extractor

FONT_FILES = [Path("/usr/share/fonts/opentype/junicode/JunicodeTwoBeta-Regular.otf"),
              Path("/usr/share/fonts/truetype/cardo/Cardo104s.ttf")]
FONTS = [str(p) for p in FONT_FILES if p.is_file()]
needs_fonts = pytest.mark.skipif(not FONTS, reason="no medievalist font installed (Debian fonts-junicode, fonts-cardo)")

LATIN = """\
[ 1 ] Brittania Oceani insula, cui quondam Albion nomen fuit, inter septentrionem et occidentem locata est.
Opima frugibus atque arboribus insula, et alendis apta pecoribus ac iumentis; uineas etiam quibusdam in locis.
CAPUT 2 1 et cum conplerentur dies pentecostes erant omnes pariter in eodem loco, et factus est repente de caelo sonus.
Erant autem in Hierusalem habitantes Iudaei viri religiosi ex omni natione quae sub caelo sunt, jam et semper.
Dominus autem Iesus Christus dixit discipulis suis: fratres, videte et orate, ne intretis in temptationem.
Haec est vita aeterna, ut cognoscant te solum Deum verum, et quem misisti, praeclarum nomen gloriae tuae.
"""
FAST = {"height": 32, "num_train": 6, "num_dev": 2, "chars_per_line": [20, 40]}


@pytest.fixture()
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "text" / "latin.txt"
    path.parent.mkdir()
    path.write_text(LATIN, encoding="utf-8")
    return path


def render(tmp_path: Path, name: str, text: Path, **options) -> dict[str, Path]:
    return run_recipe("render", None, tmp_path / name, {"text": str(text), "font": FONTS, **FAST, **options})


def transcripts(paths: dict[str, Path]) -> list[str]:
    return [u.text for p in paths.values() for u in read_manifest(p)]


@needs_fonts
def test_same_bytes_for_a_seed_whatever_the_workers(tmp_path: Path, text_file: Path) -> None:
    one = render(tmp_path, "one", text_file, workers=1, seed=3)
    two = render(tmp_path, "two", text_file, workers=2, seed=3)
    other = render(tmp_path, "other", text_file, workers=1, seed=4)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one" / "lines").rglob("*.*"))
    assert len(files) == 2 * (FAST["num_train"] + FAST["num_dev"])  # a PNG and a .gt.txt each
    for rel in files:
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes(), rel
    assert transcripts(one) == transcripts(two) and transcripts(one) != transcripts(other)


@needs_fonts
def test_images_have_the_height_ink_and_feed_the_image_features(tmp_path: Path, text_file: Path) -> None:
    paths = render(tmp_path, "out", text_file, height=40)
    assert set(paths) == {"train", "dev"}
    utts = [u for p in paths.values() for u in read_manifest(p)]
    assert len(utts) == FAST["num_train"] + FAST["num_dev"]
    extractor = build_extractor(FeatureConfig(type="image", cmvn="none", image=ImageFeatureConfig(height=24)))
    for u in utts:
        grey = np.asarray(Image.open(u.source))
        assert grey.shape[0] == 40 and grey.shape[1] > 40, u.id
        assert 0.005 < (grey < 128).mean() < 0.6, f"{u.id}: blank or black"
        assert set(np.unique(grey).tolist()) <= {0, 255}, f"{u.id}: not binarised (binarize=1.0 by default)"
        assert Path(u.source).with_name(u.id + ".gt.txt").read_text(encoding="utf-8").strip() == u.text
        assert u.speaker in {Path(f).stem for f in FONTS}
        feats = extractor(u)
        assert feats.shape[1] == 24 and feats.shape[0] > 24 and float(feats.max()) > 0.5
    stats = json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8"))
    assert stats["train"]["utterances"] == FAST["num_train"]
    assert (tmp_path / "out" / "tokens.txt").is_file() and (tmp_path / "out" / "validation.txt").is_file()
    assert "lines/s" in (tmp_path / "out" / "prepare.txt").read_text(encoding="utf-8")


@needs_fonts
def test_transcripts_keep_to_the_target_characters(tmp_path: Path, text_file: Path) -> None:
    allowed = "abcdefghilmnopqrstuxę&;.* "
    (tmp_path / "charset.txt").write_text(allowed, encoding="utf-8")
    with open(text_file, "a", encoding="utf-8") as f:
        f.write("Graece dicitur λόγος, quod est uerbum, et ratio, et sermo, et doctrina, et causa rerum.\n")
    paths = render(tmp_path, "out", text_file, target=str(tmp_path / "charset.txt"), num_train=40, num_dev=4)
    texts = transcripts(paths)
    assert texts and all(set(t) <= set(allowed) for t in texts), texts
    report = (tmp_path / "out" / "prepare.txt").read_text(encoding="utf-8")
    assert "outside the target's characters" in report and "λ" in report and "*" not in report.split("characters:")[1]


@needs_fonts
def test_lines_a_font_cannot_draw_are_dropped(tmp_path: Path, text_file: Path, monkeypatch) -> None:
    assert missing(FONTS[0], "ab字") == {"字"}
    monkeypatch.setattr("seqlabel.corpora.render.draw.coverage", lambda path: None)  # as without fontTools: .notdef
    assert missing(FONTS[0], "ab字") == {"字"}
    monkeypatch.undo()
    with open(text_file, "a", encoding="utf-8") as f:
        f.write("字字字字 字字字字 字字字字 字字字字 字字字字 字字字字 字字字字\n")
    render(tmp_path, "out", text_file, num_train=40, num_dev=4)
    assert "no font has every glyph" in (tmp_path / "out" / "prepare.txt").read_text(encoding="utf-8")


@needs_fonts
def test_recipe_applies_a_spelling_table(tmp_path: Path, text_file: Path) -> None:
    table = tmp_path / "mine.tsv"
    table.write_text("group\tpattern\treplacement\tprobability\tevidence\n"
                     "ligature\tae\tę\t1.0\t\net\t(?<!\\S)et(?!\\S)\t&\t1.0\t\nsuffix\t(?<=\\w)que\\b\tq;\t1.0\t\n",
                     encoding="utf-8")
    texts = " ".join(transcripts(render(tmp_path, "out", text_file, spelling=str(table), break_words=0.0,
                                        num_train=40, num_dev=4)))
    assert "ę" in texts and "&" in texts and "atq;" in texts
    assert "ae" not in texts and " et " not in texts and "atque" not in texts
    sample = (tmp_path / "out" / "spelling.txt").read_text(encoding="utf-8")
    assert "before:" in sample and "after:" in sample


def test_caroline_table_rewrites_at_its_rates() -> None:
    rules = load_rules(resolve_table("caroline", ".spelling.tsv", "spelling"))
    rng = np.random.default_rng(0)
    out = [apply_rules("uitae aeternae atque et iam Jesus vivit, dominus", rules, rng) for _ in range(400)]
    joined = " ".join(out)
    assert 0.2 < joined.count("ę") / 1200 < 0.5  # "ae" three times a sentence, ę at 0.33
    assert 0.55 < sum("atq;" in t for t in out) / 400 < 0.9  # -que -> q; at 0.73
    assert "j" not in joined and "J" not in joined
    assert apply_rules("atque", select(rules, rate=0.0), rng) == "atque"
    assert all("q;" not in apply_rules("atque", select(rules, skip=["suffixes"]), rng) for _ in range(20))
    with pytest.raises(ConfigError, match="unknown group"):
        select(rules, skip=["nonsense"])


def test_chunks_keep_to_the_length_and_break_words_when_asked() -> None:
    text = clean(LATIN.replace("\n", " "))
    assert "[" not in text and "CAPUT" not in text and "1" not in text
    whole = chunk(text, np.random.default_rng(0), (20, 40), 0.0, 1)
    assert chunk("ab cd . ef gh", np.random.default_rng(0), (6, 6), 0.0, 1) == ["ab", "cd .", "ef gh"]
    assert " ".join(whole) == text and all(len(line) <= 40 or " " not in line for line in whole)
    broken = chunk(text, np.random.default_rng(0), (20, 40), 1.0, 1)
    assert "".join(broken).replace(" ", "") == text.replace(" ", "")
    words = set(text.split())
    assert any(line.split()[-1] not in words for line in broken[:-1])


def test_charset_sources_and_fallbacks(tmp_path: Path) -> None:
    (tmp_path / "gt" / "ms").mkdir(parents=True)
    (tmp_path / "gt" / "ms" / "a.gt.txt").write_text("uita ę & q;\n", encoding="utf-8")
    vocab = tmp_path / "tokens.txt"
    vocab.write_text("<blank>\n|\na\ni\nt\nu\n", encoding="utf-8")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "x", "source": "x.png", "text": "aeiu"}) + "\n", encoding="utf-8")
    assert load_charset(tmp_path / "gt") == frozenset("uitaę&q; ")
    assert load_charset(vocab) == frozenset("aitu ")
    assert load_charset(manifest) == frozenset("aeiu ")
    charset = Charset(load_charset(tmp_path / "gt"))
    assert charset.map("Vitæ") == "uitę" and charset.map("ā") == "a" and charset.map("et") == "et"
    assert charset.outside("uitæ λ") == {"æ", "λ"} and charset.outside(charset.map("uitæ λ")) == {"λ"}


def test_bad_options_are_refused(tmp_path: Path, text_file: Path) -> None:
    with pytest.raises(ConfigError, match="low <= high"):
        Look(slant=[0.3, 0.1])
    with pytest.raises(ConfigError, match="font"):
        run_recipe("render", None, tmp_path / "out", {"text": str(text_file)})
    with pytest.raises(ConfigError, match="font '/nowhere.ttf' is not a file"):
        run_recipe("render", None, tmp_path / "out", {"text": str(text_file), "font": "/nowhere.ttf"})
    with pytest.raises(ConfigError, match="spelling table 'nope'"):
        run_recipe("render", None, tmp_path / "out",
                   {"text": str(text_file), "font": str(text_file), "spelling": "nope"})
    with pytest.raises(ConfigError, match="has no option"):
        run_recipe("render", None, tmp_path / "out", {"colour": "red"})


@needs_fonts
def test_prepare_render_through_the_cli(tmp_path: Path, text_file: Path) -> None:
    result = CliRunner().invoke(main, ["prepare", "render", "--data-dir", str(text_file.parent), "--out",
                                       str(tmp_path / "out"), "-p", f"font=[{FONTS[0]}]", "-p", "height=32",
                                       "-p", "num_train=3", "-p", "num_dev=1"])
    assert result.exit_code == 0, result.output
    assert "lines/s" in result.output and f"train: {tmp_path / 'out' / 'train.jsonl'}" in result.output
