"""seqlabel.data.vocab, seqlabel.data.manifest and seqlabel.data.transcripts: tokenisation, the blank at index 0,
vocabulary files, JSONL manifests and Kaldi ``text`` files, with their error messages."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqlabel.data.manifest import read_manifest, speaker_of, write_manifest
from seqlabel.data.transcripts import read_kaldi_text, write_kaldi_text
from seqlabel.data.vocab import BLANK, Vocab
from seqlabel.errors import DataError, VocabError
from seqlabel.types import Utterance


# ----------------------------------------------------------------------------- tokenisation
def test_char_tokenize_spaces_become_boundaries_and_collapse() -> None:
    vocab = Vocab([], "char")
    assert vocab.tokenize("ab c") == ["a", "b", "|", "c"]
    assert vocab.tokenize("  ab   c\t d  ") == ["a", "b", "|", "c", "|", "d"]
    assert vocab.tokenize("") == []
    assert Vocab([], "char", word_boundary="_").tokenize("a b") == ["a", "_", "b"]


def test_char_tokenize_refuses_text_holding_the_boundary() -> None:
    with pytest.raises(VocabError, match="word-boundary"):
        Vocab([], "char").tokenize("a|b")


def test_phone_tokenize_splits_on_whitespace() -> None:
    vocab = Vocab([], "phone")
    assert vocab.tokenize("sil  hh ah\tl ow  sil") == ["sil", "hh", "ah", "l", "ow", "sil"]
    assert vocab.tokenize("a|b c") == ["a|b", "c"]  # no boundary handling for phones


def test_to_text_inverts_tokenize() -> None:
    chars = Vocab([], "char")
    assert chars.to_text(chars.tokenize("hello   big world")) == "hello big world"
    phones = Vocab([], "phone")
    assert phones.to_text(phones.tokenize("hh  ah l")) == "hh ah l"


# ----------------------------------------------------------------------------- ids
def test_blank_is_index_zero_and_tokens_start_at_one() -> None:
    vocab = Vocab(["a", "b", "c"])
    assert vocab.tokens[0] == BLANK and len(vocab) == 4
    assert vocab.encode("cab") == [3, 1, 2]
    assert vocab.decode([3, 1, 2]) == ["c", "a", "b"]
    assert 0 not in vocab.encode("abc")


def test_encode_unknown_token_names_utterance_and_token() -> None:
    vocab = Vocab(["a", "b", "|"])
    with pytest.raises(VocabError) as info:
        vocab.encode("ab xa", utt_id="spk1-utt7")
    assert "'spk1-utt7'" in str(info.value) and "'x'" in str(info.value)
    with pytest.raises(VocabError, match="'zh'"):
        Vocab(["aa", "b"], "phone").encode("aa zh b", "u1")


def test_blank_in_a_transcript_is_not_a_token() -> None:
    with pytest.raises(VocabError, match="u9"):
        Vocab(["a"], "phone").encode("a <blank> a", "u9")


def test_constructor_refuses_blank_and_duplicates() -> None:
    with pytest.raises(VocabError, match="reserved"):
        Vocab(["a", BLANK])
    with pytest.raises(VocabError, match="duplicate"):
        Vocab(["a", "b", "a"])
    with pytest.raises(VocabError, match="unit"):
        Vocab(["a"], unit="word")


def test_build_is_sorted_with_boundary_first() -> None:
    vocab = Vocab.build(["ba c", "ab"])
    assert vocab.tokens == [BLANK, "|", "a", "b", "c"]
    phones = Vocab.build(["sil b a", "a c"], unit="phone")
    assert phones.tokens == [BLANK, "a", "b", "c", "sil"]
    with pytest.raises(VocabError, match="empty"):
        Vocab.build(["", "  "])


# ----------------------------------------------------------------------------- vocab files
def test_vocab_file_round_trip(tmp_path: Path) -> None:
    vocab = Vocab(["|", "a", "é", "b"], "char")
    path = tmp_path / "tokens.txt"
    vocab.save(path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == BLANK
    loaded = Vocab.load(path)
    assert loaded == vocab and loaded.tokens == vocab.tokens
    phones = Vocab(["aa", "sil"], "phone")
    phones.save(path)
    assert Vocab.load(path, unit="phone") == phones
    assert Vocab.from_state(phones.state()) == phones


@pytest.mark.parametrize(
    "text, match",
    [
        ("a\nb\n", "line 1"),  # first line not <blank>
        ("", "line 1"),  # empty file
        (f"a\n{BLANK}\nb\n", "line 1"),
        (f"{BLANK}\na\n\nb\n", ":3"),  # empty token on line 3
        (f"{BLANK}\na\n b\n", ":3"),  # surrounding whitespace on line 3
        (f"{BLANK}\na\nb\na\n", "duplicate"),
        (f"{BLANK}\na\n{BLANK}\n", "reserved"),
    ],
)
def test_bad_vocab_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "tokens.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(VocabError, match=match):
        Vocab.load(path)


def test_missing_vocab_file(tmp_path: Path) -> None:
    with pytest.raises(VocabError, match="not found"):
        Vocab.load(tmp_path / "nope.txt")


# ----------------------------------------------------------------------------- manifests
def write_jsonl(path: Path, records: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def test_relative_source_resolved_against_manifest_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = write_jsonl(tmp_path / "data" / "train.jsonl", [
        {"id": "u1", "source": "wav/u1.wav", "text": "a"},
        {"id": "u2", "source": "/abs/u2.wav", "text": "b"},
    ])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    utts = read_manifest(Path("..") / "data" / "train.jsonl")
    assert Path(utts[0].source).resolve() == (tmp_path / "data" / "wav" / "u1.wav").resolve()
    assert utts[1].source == "/abs/u2.wav"
    assert read_manifest(manifest)[0].source == str(tmp_path / "data" / "wav" / "u1.wav")


def test_optional_fields_and_blank_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [
        {"id": 7, "source": "a.wav", "text": "x", "speaker": "s1", "start": 0.5, "end": 1.5, "duration": 1.0},
        "",
        {"id": "u2", "source": "b.wav", "text": "", "num_frames": 12},
    ])
    u1, u2 = read_manifest(path)
    assert u1.id == "7" and u1.speaker == "s1" and (u1.start, u1.end, u1.duration) == (0.5, 1.5, 1.0)
    assert u2.speaker == "" and u2.num_frames == 12 and u2.start is None


def test_invalid_json_reports_line_number(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [
        {"id": "u1", "source": "a.wav", "text": "x"},
        {"id": "u2", "source": "b.wav", "text": "y"},
        '{"id": "u3", "source": "c.wav", "text": ',
    ])
    with pytest.raises(DataError) as info:
        read_manifest(path)
    assert f"{path}:3" in str(info.value) and "JSON" in str(info.value)


def test_non_object_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", ['["u1", "a.wav", "x"]'])
    with pytest.raises(DataError, match=":1: expected a JSON object"):
        read_manifest(path)


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [
        {"id": "u1", "source": "a.wav", "text": "x"},
        {"id": "u2", "source": "b.wav", "text": "x"},
        {"id": "u1", "source": "c.wav", "text": "x"},
    ])
    with pytest.raises(DataError) as info:
        read_manifest(path)
    message = str(info.value)
    assert f"{path}:3" in message and "'u1'" in message and "line 1" in message


def test_missing_keys(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [{"id": "u1", "source": "a.wav", "text": "x"}, {"id": "u2", "text": "y"}])
    with pytest.raises(DataError, match=r":2: missing key\(s\) \['source'\]"):
        read_manifest(path)


def test_unknown_keys(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [{"id": "u1", "source": "a.wav", "text": "x", "transcript": "x"}])
    with pytest.raises(DataError, match=r":1: unknown key\(s\) \['transcript'\]"):
        read_manifest(path)


def test_text_must_be_a_string_and_segments_ordered(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="'u1'.*text"):
        read_manifest(write_jsonl(tmp_path / "a.jsonl", [{"id": "u1", "source": "a.wav", "text": 5}]))
    with pytest.raises(DataError, match="'u2'.*start < end"):
        read_manifest(write_jsonl(tmp_path / "b.jsonl", [{"id": "u2", "source": "a.wav", "text": "x",
                                                          "start": 2.0, "end": 1.0}]))


def test_missing_and_empty_manifest(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_manifest(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="no utterances"):
        read_manifest(tmp_path / "empty.jsonl")


def test_manifest_round_trip(tmp_path: Path) -> None:
    utts = [
        Utterance("u1", str(tmp_path / "a.wav"), "hello world", speaker="s1", duration=1.25),
        Utterance("u2", str(tmp_path / "b.wav"), "sil aa b", start=0.1, end=0.9, num_frames=80),
        Utterance("ü3", str(tmp_path / "c d.flac"), "naïve"),
    ]
    path = write_manifest(tmp_path / "out" / "m.jsonl", utts)
    assert read_manifest(path) == utts
    assert not list(path.parent.glob("*.tmp"))
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[2])
    assert set(first) == {"id", "source", "text"}  # None and "" fields are left out


def test_speaker_of() -> None:
    assert speaker_of(Utterance("x-1", "s", "t", speaker="bob")) == "bob"
    assert speaker_of(Utterance("fash-an251", "s", "t")) == "fash"
    assert speaker_of(Utterance("jo_12", "s", "t")) == "jo"
    assert speaker_of(Utterance("solo", "s", "t")) == "solo"


# ----------------------------------------------------------------------------- Kaldi text
def test_kaldi_text_round_trip(tmp_path: Path) -> None:
    items = [("u1", ["a", "b", "|", "c"]), ("u2", []), ("u3", ["sil", "aa"])]
    path = write_kaldi_text(tmp_path / "sub" / "text", items)
    assert path.read_text().splitlines() == ["u1 a b | c", "u2", "u3 sil aa"]
    assert read_kaldi_text(path) == dict(items)
    assert not list(path.parent.glob("*.tmp"))


def test_kaldi_text_read_tolerates_spacing_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "text"
    path.write_text("u1   a  b\n\n  u2\tc\n")
    assert read_kaldi_text(path) == {"u1": ["a", "b"], "u2": ["c"]}


def test_kaldi_text_errors(tmp_path: Path) -> None:
    path = tmp_path / "text"
    path.write_text("u1 a\nu2 b\nu1 c\n")
    with pytest.raises(DataError, match=r"text:3: duplicate utterance id 'u1'"):
        read_kaldi_text(path)
    with pytest.raises(DataError, match="not found"):
        read_kaldi_text(tmp_path / "nope")
