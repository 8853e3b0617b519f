"""Language models from plain text (seqlabel/lm/text.py, `seqlabel lm train --text`): folders of text,
normalisation, the mapping onto a model's characters with every mapped and dropped character counted,
and an LM that prefers a held-out sentence to the same characters shuffled."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from helpers import invoke, ok, refused

from seqlabel.data.vocab import Vocab
from seqlabel.lm import NgramLM, tokenize
from seqlabel.lm.text import CharMapper, lm_text
from seqlabel.models.checkpoint import save_checkpoint

WORDS = ["in", "principio", "erat", "uerbum", "et", "deus", "apud", "deum", "hoc", "omnia", "per", "ipsum",
         "facta", "sunt", "sine", "nihil", "quod", "factum", "est", "uita", "lux", "hominum"]


def sentences(count: int, seed: int) -> list[str]:
    """Word sequences with a strong order: each word is mostly followed by the next word of the list."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        k = rng.randrange(len(WORDS))
        words = []
        for _ in range(rng.randint(4, 9)):
            words.append(WORDS[k])
            k = (k + 1) % len(WORDS) if rng.random() < 0.85 else rng.randrange(len(WORDS))
        out.append(" ".join(words))
    return out


def shuffled(text: str, seed: int) -> str:
    chars = list(text.replace(" ", ""))
    random.Random(seed).shuffle(chars)
    words, at = [], 0
    for w in text.split():  # the same word lengths, so only the order of characters differs
        words.append("".join(chars[at : at + len(w)]))
        at += len(w)
    return " ".join(words)


def test_mapping_rules_are_applied_in_order_and_counted() -> None:
    vocab = Vocab(["|", "a", "b", "e", "q", "s", "ẽ"])
    mapper = CharMapper(vocab, {"ß": "ss"})
    assert mapper("  Qué\tẽ ß 7  ab\n") == "qe ẽ ss ab"
    report = mapper.report
    assert (report.lines, report.kept_lines, report.chars, report.kept) == (1, 1, 8, 3)
    assert report.mapped == {("Q", "q", "case"): 1, ("é", "e", "marks"): 1, ("ß", "ss", "table"): 1}
    assert report.dropped == {"u": 1, "7": 1}
    assert mapper("777") == "" and report.dropped["7"] == 4 and report.kept_lines == 1
    assert "2 dropped" not in report.summary() and "5 dropped" in report.summary()
    assert report.table().splitlines()[1].startswith("7\tU+0037\tDIGIT SEVEN\tdropped\t\t4")


def test_decomposition_normalisation_and_spaces() -> None:
    nfd_model = Vocab(["a", "e", "\u0303"])  # no word boundary: spaces cannot be output
    assert CharMapper(nfd_model, normalization="none")("ẽa a") == "e\u0303aa"  # precomposed: decomposed
    assert CharMapper(nfd_model, normalization="NFD")("ẽ").encode() == "e\u0303".encode()
    mapper = CharMapper(nfd_model, normalization="none")
    mapper("ẽ")
    assert mapper.report.mapped == {("ẽ", "e\u0303", "decomposed"): 1}
    assert CharMapper(None)("  Qué  7 ") == "Qué 7"  # no vocabulary: normalised only


def write_text_tree(root: Path) -> Path:
    """A folder of .txt files (one below a subfolder) and a file that is not .txt (skipped)."""
    (root / "corpus" / "more").mkdir(parents=True)
    train = sentences(400, seed=1)
    (root / "corpus" / "a.txt").write_text("\n".join(train[:200]) + "\n\n", encoding="utf-8")
    (root / "corpus" / "more" / "b.txt").write_text("\n".join(train[200:]) + "\n", encoding="utf-8")
    (root / "corpus" / "notes.md").write_text("zzz qqq xxx\n" * 50, encoding="utf-8")
    return root / "corpus"


def test_an_lm_from_text_prefers_held_out_sentences_to_their_shuffles(tmp_path: Path) -> None:
    corpus = write_text_tree(tmp_path)
    out = tmp_path / "lm.arpa"
    result = ok(invoke("lm", "train", "--text", corpus, "--order", "4", "--out", out))
    assert "2 file(s), 400 lines" in result.output
    lm = NgramLM.read_arpa(out)
    assert "z" not in {g[0] for g in lm.ngrams(1)}  # notes.md was not read
    for i, held_out in enumerate(sentences(10, seed=99)):
        real = lm.sentence_logprob(tokenize(held_out, "char"))
        assert real > lm.sentence_logprob(tokenize(shuffled(held_out, i), "char")) + 5.0, held_out


def test_real_latin_text_lm_prefers_real_paragraphs(shared_data: Path, tmp_path: Path) -> None:
    latin = shared_data / "latin"
    if not (latin / "bible").is_dir():
        pytest.skip(f"{latin} not found (see ../shared/data/README.md)")
    train = sorted((latin / "bible").glob("*.txt"))[:3]
    held = [line for line in (latin / "alcuin").rglob("*.txt").__next__().read_text(encoding="utf-8").splitlines()
            if len(line) > 80][:5]
    texts, report = lm_text(train, None)
    lm = NgramLM.train([tokenize(t, "char") for t in texts], 4)
    assert report.files == 3 and report.kept == report.chars
    for i, line in enumerate(held):
        text = " ".join(line.split())
        assert lm.sentence_logprob(tokenize(text, "char")) > lm.sentence_logprob(tokenize(shuffled(text, i), "char"))


def test_cli_maps_onto_a_checkpoints_or_tokens_files_characters(tmp_path: Path) -> None:
    corpus = write_text_tree(tmp_path)
    (corpus / "c.txt").write_text("Deus ÉRAT 1234 ß\n", encoding="utf-8")
    vocab = Vocab(["|", *sorted(set("".join(WORDS))), "z", "ẽ"])  # z and ẽ: in no text
    vocab.save(tmp_path / "tokens.txt")
    save_checkpoint(tmp_path / "model.pt", {"vocab": vocab.state()})
    table = tmp_path / "map.tsv"
    table.write_text("# comment\nß\tss\n", encoding="utf-8")
    for source in ("tokens.txt", "model.pt"):
        out = tmp_path / f"{source}.arpa"
        result = ok(invoke("lm", "train", "--text", corpus, "--vocab", tmp_path / source, "--map", table,
                           "--order", "3", "--out", out))
        assert "4 dropped" in result.output and "case+marks 1" in result.output and "'1' (U+0031) 1" in result.output
        tsv = (tmp_path / f"{source}.arpa.charmap.tsv").read_text(encoding="utf-8")
        assert "É\tU+00C9\tLATIN CAPITAL LETTER E WITH ACUTE\tcase+marks\te\t1" in tsv and "ß\tU+00DF" in tsv
        lm = NgramLM.read_arpa(out)
        assert {g[0] for g in lm.ngrams(1)} == set(vocab.tokens[1:]) | {"<s>", "</s>", "<unk>"}  # every model token
        assert lm.logprob((), "z") == lm.logprob((), "ẽ") == lm.logprob((), "<unk>") < lm.logprob((), "q")


def test_cli_writes_the_lm_and_its_charmap_into_a_folder_it_creates(tmp_path: Path) -> None:
    corpus = write_text_tree(tmp_path)
    Vocab(["|", *sorted(set("".join(WORDS)))]).save(tmp_path / "tokens.txt")
    out = tmp_path / "lm" / "new" / "latin3.arpa"  # the README's `--out lm/latin6.arpa` from a fresh folder
    ok(invoke("lm", "train", "--text", corpus, "--vocab", tmp_path / "tokens.txt", "--order", "3", "--out", out))
    assert NgramLM.read_arpa(out).order == 3 and (tmp_path / "lm" / "new" / "latin3.arpa.charmap.tsv").is_file()


@pytest.mark.parametrize("args, fragments", [
    ((), ("give MANIFESTS, --text PATH, or both",)),
    (("--vocab", "tokens.txt"), ("--vocab, --map and --spelling apply to --text input",)),
    (("--text", "missing"), ("text file or folder not found",)),
    (("--text", "corpus", "--map", "bad.tsv"), ("bad.tsv:2: expected one character, a tab",)),
    (("--text", "corpus", "--vocab", "tokens.txt", "--map", "far.tsv"), ("'x' (U+0078)", "the vocabulary lacks")),
    (("--text", "corpus", "--vocab", "tokens.txt", "--unit", "phone"), ("use it with --unit char or word",)),
    (("--text", "empty"), ("no .txt files in the folder",)),
])
def test_cli_refuses_bad_text_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args, fragments) -> None:
    write_text_tree(tmp_path)
    (tmp_path / "empty").mkdir()
    Vocab(["|", "a", "b"]).save(tmp_path / "tokens.txt")
    (tmp_path / "bad.tsv").write_text("a\tb\nab\tc\n", encoding="utf-8")
    (tmp_path / "far.tsv").write_text("c\tx\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    refused(invoke("lm", "train", *args, "--out", "x.arpa"), *fragments)


def test_spelling_rewrites_text_as_the_render_recipe_does(tmp_path: Path) -> None:
    """--spelling caroline: the LM text gets the render step's cleaning and Caroline conventions (ae -> ę,
    et -> &, -que -> q;), seeded, so the same text gives the same LM lines."""
    text = tmp_path / "latin.txt"
    paragraph = "Et dixit deus fiat lux et facta est lux quae 12 [uidit] uitae deusque et terrae et caelum et aquae"
    text.write_text((paragraph + "\n") * 40, encoding="utf-8")
    plain, _ = lm_text([text])
    spelled, _ = lm_text([text], spelling="caroline")
    again, _ = lm_text([text], spelling="caroline")
    assert spelled == again and len(spelled) == 40
    joined = " ".join(spelled)
    assert "12" not in joined and "[" not in joined and "uidit" not in joined  # render's cleaning
    assert {"ę", "&"} <= set(joined) and "ę" not in " ".join(plain)
    assert joined.count(" et ") < " ".join(plain).count(" et ")
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("<blank>\n|\n" + "\n".join(sorted(set("".join(spelled)) - {" "})) + "\n", encoding="utf-8")
    out = tmp_path / "lm" / "spelled.arpa"
    ok(invoke("lm", "train", "--text", text, "--spelling", "caroline", "--vocab", tokens, "--order", 3, "--out", out))
    assert "ę" in out.read_text(encoding="utf-8")
    refused(invoke("lm", "train", "--text", text, "--spelling", "nosuchtable", "--out", tmp_path / "x.arpa"),
            "nosuchtable")
