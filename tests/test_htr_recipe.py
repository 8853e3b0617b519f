"""The Caroline recipe end to end, quick: pre-training on rendered Latin (configs/latin_render.yaml), fine-tuning
on manuscript lines (configs/caroline_finetune.yaml, from the pre-trained best.pt with vocab_resize union), a
character LM from plain Latin text on the fine-tuned model's characters, its weight tuned on dev, and the test
evaluated with it. The shipped configs run unchanged from a working folder laid out as their prepare commands
leave it; the quick versions only shrink the data (a handful of rendered lines, drawn 32 pixels high) and the
epochs (1 and 2), so the whole chain takes seconds. The "manuscripts" are lines rendered with another font and
seed, in the ocropus/kraken layout that `prepare lines` reads, one of them holding a character the pre-training
never saw. Skips when the medievalist fonts (Debian fonts-junicode, fonts-cardo) are absent."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import invoke, ok

from seqlabel.corpora import run_recipe
from seqlabel.data.manifest import read_manifest
from seqlabel.models.checkpoint import load_checkpoint

FONT_FILES = [Path("/usr/share/fonts/opentype/junicode/JunicodeTwoBeta-Regular.otf"),
              Path("/usr/share/fonts/truetype/cardo/Cardo104s.ttf")]
FONTS = [str(p) for p in FONT_FILES if p.is_file()]
needs_fonts = pytest.mark.skipif(not FONTS, reason="no medievalist font installed (Debian fonts-junicode, fonts-cardo)")

LATIN = """\
In principio erat uerbum, et uerbum erat apud deum, et deus erat uerbum. Hoc erat in principio apud deum.
Omnia per ipsum facta sunt, et sine ipso factum est nihil quod factum est; in ipso uita erat.
Et uita erat lux hominum, et lux in tenebris lucet, et tenebrae eam non conprehenderunt.
Fuit homo missus a deo, cui nomen erat Iohannes; hic uenit in testimonium, ut testimonium perhiberet.
"""
QUICK_RENDER = {"height": 32, "chars_per_line": [12, 24], "workers": 1}  # small images, short lines
NEW = "ꝑ"  # in one manuscript transcript only: fine-tuning must add it to the pre-trained outputs
# The quick versions of the two configs: the shipped files with fewer epochs and no extras.
QUICK = ["-o", "train.progress=false", "-o", "train.tensorboard=false", "-o", "train.num_workers=0",
         "-o", "train.save_every_steps=0"]


def manuscripts(rendered: Path, root: Path) -> Path:
    """Rendered lines laid out as `<manuscript>/<page>/<line>.bin.png` + `.gt.txt`, 3 lines a manuscript."""
    lines = [u for split in ("train", "dev") for u in read_manifest(rendered / f"{split}.jsonl")]
    for k, utt in enumerate(sorted(lines, key=lambda u: u.id)):
        page = root / f"ms{k // 3}" / "0001"
        page.mkdir(parents=True, exist_ok=True)
        shutil.copy(utt.source, page / f"{k:06d}.bin.png")
        text = utt.text + (f" {NEW}" if k == 0 else "")
        (page / f"{k:06d}.gt.txt").write_text(text + "\n", encoding="utf-8")
    return root


@needs_fonts
def test_pretrain_on_rendered_lines_finetune_on_manuscripts_and_decode_with_a_latin_lm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = tmp_path / "latin" / "text.txt"
    text.parent.mkdir()
    text.write_text(LATIN, encoding="utf-8")
    # the manuscripts (another font and seed than the pre-training's), then the recipe's two prepare commands
    run_recipe("render", None, tmp_path / "drawn", {"text": str(text), "font": FONTS[-1:], "seed": 7,
                                                    "num_train": 9, "num_dev": 3, **QUICK_RENDER})
    manuscripts(tmp_path / "drawn", tmp_path / "caroline")
    ok(invoke("prepare", "lines", "--data-dir", tmp_path / "caroline", "--out", "data/caroline",
              "-p", "dev_folders=ms2", "-p", "test_folders=ms3"))
    ok(invoke("prepare", "render", "--data-dir", text.parent, "--out", "data/render", "-p", f"font=[{FONTS[0]}]",
              "-p", "target=data/caroline/train.jsonl", "-p", "num_train=8", "-p", "num_dev=2",
              "-p", "height=32", "-p", "chars_per_line=[12,24]", "-p", "workers=1"))
    assert NEW not in Path("data/render/tokens.txt").read_text(encoding="utf-8").split()

    ok(invoke("train", "latin_render", "--out", "exp/latin_render", "-o", "train.max_epochs=1", *QUICK))
    out = ok(invoke("train", "caroline_finetune", "--out", "exp/caroline_finetune", "-o", "train.max_epochs=2",
                    *QUICK)).output
    assert "initialised from exp/latin_render/best.pt" in out and "(train.vocab_resize: union)" in out, out
    assert "differs from train.init_from" not in out, out  # the two configs read lines alike (normalize: centre)

    best = Path("exp/caroline_finetune/best.pt")
    state = load_checkpoint(best)
    assert state["config"]["features"]["image"]["normalize"] == "centre"  # decoding normalises as training did
    pretrained = load_checkpoint(Path("exp/latin_render/best.pt"))
    rendered = pretrained["vocab"]["tokens"]
    # a handful of rendered lines hold only some of the manuscripts' characters: the rest, NEW among them, is added
    added = [t for t in Path("data/caroline/tokens.txt").read_text(encoding="utf-8").split()[1:] if t not in rendered]
    assert NEW in added and state["init_from"]["path"] == str(Path("exp/latin_render/best.pt").resolve())
    assert sorted(state["init_from"]["tokens_added"]) == sorted(added) and state["init_from"]["tokens_dropped"] == []
    assert state["vocab"]["tokens"][: len(rendered)] == rendered  # the pre-trained outputs keep their ids
    summary = json.loads(Path("exp/caroline_finetune/test/summary.json").read_text(encoding="utf-8"))
    assert (summary["tokens"]["name"], summary["words"]["name"]) == ("CER", "WER")  # of the test manuscript

    # the LM: plain Latin text mapped onto the fine-tuned model's characters; weight and bonus tuned on dev
    ok(invoke("lm", "train", "--text", text.parent, "--vocab", best, "--order", 4, "--out", "lm/latin4.arpa"))
    tuned = ok(invoke("tune", best, "data/caroline/dev.jsonl", "--lm", "lm/latin4.arpa", "--weights", "0.3,0.6",
                      "--bonus", "0,1")).output
    assert "best:" in tuned, tuned
    ok(invoke("evaluate", best, "data/caroline/test.jsonl", "--out", "exp/caroline_finetune/test_lm",
              "--decoder", "beam", "-o", "decode.lm=lm/latin4.arpa", "-o", "decode.lm_weight=0.6",
              "-o", "decode.insertion_bonus=1"))
    with_lm = json.loads(Path("exp/caroline_finetune/test_lm/summary.json").read_text(encoding="utf-8"))
    assert (with_lm["tokens"]["name"], with_lm["words"]["name"]) == ("CER", "WER")
    assert json.loads(Path("exp/caroline_finetune/test_lm/evaluation.json").read_text(encoding="utf-8"))[
        "decoder"] == "beam"
