"""Bad input to the text readers (``seqlabel.textfile``: one door for manifests, Kaldi text, vocabularies,
YAML configs, ARPA LMs, lexicons, LM training text and recipe transcripts): binary files, UTF-16 and
non-UTF-8 text given where UTF-8 text is expected. Each case asserts the error type and that the
message names the file (and line), what was expected and the fix (see ``bad_input.py``)."""
from __future__ import annotations

import gzip
from pathlib import Path

import click
import numpy as np
import pytest
import soundfile
from bad_input import RATE, Base, Row, check_case, cli, config_data, ids, npy_corpus, write_manifest, write_yaml

from seqlabel import api
from seqlabel.errors import ConfigError, DataError, VocabError


def write_wav(path: Path) -> Path:
    soundfile.write(str(path), np.zeros(RATE // 4, dtype=np.float32), RATE, subtype="PCM_16", format="WAV")
    return path


# ----------------------------------------------------------------------------- manifests
def manifest_is_a_wav(tmp: Path, base: Base) -> None:
    api.decode(base.checkpoint, write_wav(tmp / "x.wav"), device="cpu", progress=False)


def manifest_is_a_wav_on_the_command_line(tmp: Path, base: Base) -> None:  # issue 12: was a UnicodeDecodeError
    cli("decode", base.checkpoint, write_wav(tmp / "x.wav"), "--out", tmp / "hyp.txt", "--device", "cpu")


def manifest_not_utf8(tmp: Path, base: Base) -> None:
    rows = npy_corpus(tmp)
    write_manifest(tmp / "dev.jsonl", rows)
    (tmp / "dev.jsonl").write_bytes((tmp / "dev.jsonl").read_bytes().replace(b'"ba"', '"bé"'.encode("latin-1")))
    api.decode(base.checkpoint, tmp / "dev.jsonl", device="cpu", progress=False)


def manifest_utf16(tmp: Path, base: Base) -> None:
    write_manifest(tmp / "dev.jsonl", npy_corpus(tmp))
    (tmp / "dev.jsonl").write_text((tmp / "dev.jsonl").read_text(encoding="utf-8"), encoding="utf-16")
    api.decode(base.checkpoint, tmp / "dev.jsonl", device="cpu", progress=False)


def manifest_is_a_wav_in_training(tmp: Path, base: Base) -> None:
    cli("train", write_yaml(tmp / "c.yaml", base.config), "--out", tmp / "exp", "-o",
        f"data.train={write_wav(tmp / 'x.wav')}")


# ----------------------------------------------------------------------------- other text files
def transcript_file_is_an_image(tmp: Path, base: Base) -> None:
    (tmp / "ref.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp / "hyp").write_text("u1 a\n")
    api.score_files(tmp / "ref.png", tmp / "hyp")


def vocab_utf16(tmp: Path, base: Base) -> None:
    (tmp / "tokens.txt").write_text("<blank>\n|\na\nb\nc\n", encoding="utf-16")
    api.train(write_yaml(tmp / "c.yaml", config_data(write_manifest(tmp / "train.jsonl", npy_corpus(tmp)),
                                                     data={"vocab": str(tmp / "tokens.txt")})),
              tmp / "exp", echo=lambda _: None)


def yaml_not_utf8(tmp: Path, base: Base) -> None:
    (tmp / "c.yaml").write_bytes("# réglages\ntrain:\n  lr: 0.1\n".encode("latin-1"))
    api.train(tmp / "c.yaml", tmp / "exp", echo=lambda _: None)


def yaml_is_binary(tmp: Path, base: Base) -> None:
    api.train(write_wav(tmp / "c.yaml"), tmp / "exp", echo=lambda _: None)


def vocab_is_binary(tmp: Path, base: Base) -> None:
    np.save(tmp / "tokens.npy", np.arange(4))
    api.train(write_yaml(tmp / "c.yaml", config_data(write_manifest(tmp / "train.jsonl", npy_corpus(tmp)),
                                                     data={"vocab": str(tmp / "tokens.npy")})),
              tmp / "exp", echo=lambda _: None)


def arpa_is_binary(tmp: Path, base: Base) -> None:
    np.save(tmp / "lm.npy", np.zeros(3))
    api.decode(base.checkpoint, base.root / "train.jsonl", device="cpu", progress=False,
               overrides=["decode.decoder=beam", f"decode.lm={tmp / 'lm.npy'}"])


def arpa_damaged_gzip(tmp: Path, base: Base) -> None:
    data = gzip.compress(b"\\data\\\n" + b"ngram 1=4\n" * 50)
    (tmp / "lm.arpa.gz").write_bytes(data[:12] + b"not deflate data" + data[-8:])
    api.decode(base.checkpoint, base.root / "train.jsonl", device="cpu", progress=False,
               overrides=["decode.decoder=beam", f"decode.lm={tmp / 'lm.arpa.gz'}"])


def lexicon_is_binary(tmp: Path, base: Base) -> None:
    np.savez(tmp / "words.npz", a=np.zeros(2))
    api.decode(base.checkpoint, base.root / "train.jsonl", device="cpu", progress=False,
               overrides=["decode.decoder=beam", f"decode.lexicon={tmp / 'words.npz'}"])


def lm_train_binary_text(tmp: Path, base: Base) -> None:
    (tmp / "corpus.txt").write_bytes(b"ab ba\n\x00\x01\x02 cab\n")
    api.train_lm([tmp / "corpus.txt"], tmp / "lm.arpa")


def prepare_dir_transcripts_not_utf8(tmp: Path, base: Base) -> None:
    write_wav(tmp / "u1.wav")
    (tmp / "transcripts.tsv").write_bytes("u1\tcafé\n".encode("latin-1"))
    api.prepare("dir", tmp, tmp / "out")


def prepare_dir_transcripts_binary(tmp: Path, base: Base) -> None:
    write_wav(tmp / "u1.wav")
    write_wav(tmp / "transcripts.tsv")
    api.prepare("dir", tmp, tmp / "out")


def prepare_kaldi_text_is_binary(tmp: Path, base: Base) -> None:
    (tmp / "train").mkdir()
    write_wav(tmp / "train" / "text")
    api.prepare("kaldi", tmp, tmp / "out")


def prepare_an4_dictionary_not_utf8(tmp: Path, base: Base) -> None:
    (tmp / "wav" / "an4_clstk").mkdir(parents=True)
    (tmp / "etc").mkdir()
    (tmp / "etc" / "an4.dic").write_bytes("A\tAH\nCAFÉ\tK AE F EY\n".encode("latin-1"))
    api.prepare("an4", tmp, tmp / "out", unit="phone")


def prepare_librispeech_transcript_is_binary(tmp: Path, base: Base) -> None:
    chapter = tmp / "LibriSpeech" / "train-clean-100" / "19" / "198"
    chapter.mkdir(parents=True)
    (chapter / "19-198.trans.txt").write_bytes(b"19-198-0000 HELLO\n\x00\x00\x00")
    api.prepare("librispeech", tmp, tmp / "out", train="train-clean-100", dev="", test="")


# (case, error type, fragments of the message: the culprit, then the fix where there is one)
CASES: list[Row] = [
    (manifest_is_a_wav, DataError, ("{tmp}/x.wav is not a UTF-8 JSONL manifest", "RIFF/WAV audio",
                                    "use `seqlabel transcribe CHECKPOINT FILE...`")),
    (manifest_is_a_wav_on_the_command_line, click.ClickException, ("{tmp}/x.wav is not a UTF-8 JSONL manifest",
                                                                   "seqlabel transcribe")),
    (manifest_is_a_wav_in_training, click.ClickException, ("{tmp}/x.wav is not a UTF-8 JSONL manifest",
                                                           "RIFF/WAV audio")),
    (manifest_not_utf8, DataError, ("{tmp}/dev.jsonl is not UTF-8 text (line 2, column", "byte 0xe9",
                                    "iconv -f LATIN1 -t UTF-8")),
    (manifest_utf16, DataError, ("{tmp}/dev.jsonl is UTF-16 text", "iconv -f UTF-16 -t UTF-8")),
    (transcript_file_is_an_image, DataError, ("{tmp}/ref.png is not a UTF-8 Kaldi text file", "a PNG image")),
    (vocab_utf16, VocabError, ("{tmp}/tokens.txt is UTF-16 text", "vocabulary", "save it as UTF-8")),
    (yaml_not_utf8, ConfigError, ("{tmp}/c.yaml is not UTF-8 text (line 1, column 4", "YAML config", "iconv")),
    (yaml_is_binary, ConfigError, ("{tmp}/c.yaml is not a UTF-8 YAML config", "RIFF/WAV audio")),
    (vocab_is_binary, VocabError, ("{tmp}/tokens.npy is not", "vocabulary", "a NumPy .npy array")),
    (arpa_is_binary, DataError, ("{tmp}/lm.npy is not a UTF-8 ARPA language model", "a NumPy .npy array")),
    (arpa_damaged_gzip, DataError, ("cannot read {tmp}/lm.arpa.gz", "ARPA language model")),
    (lexicon_is_binary, DataError, ("{tmp}/words.npz is not a UTF-8 lexicon", "zip archive")),
    (lm_train_binary_text, DataError, ("{tmp}/corpus.txt is not a UTF-8 text file", "binary data (NUL bytes)")),
    (prepare_dir_transcripts_not_utf8, DataError, ("{tmp}/transcripts.tsv is not UTF-8 text (line 1", "iconv")),
    (prepare_dir_transcripts_binary, DataError, ("{tmp}/transcripts.tsv is not", "RIFF/WAV audio")),
    (prepare_kaldi_text_is_binary, DataError, ("{tmp}/train/text is not a UTF-8 Kaldi table", "RIFF/WAV audio")),
    (prepare_an4_dictionary_not_utf8, DataError, ("{tmp}/etc/an4.dic is not UTF-8 text (line 2, column 4",
                                                  "pronunciation dictionary", "iconv")),
    (prepare_librispeech_transcript_is_binary, DataError, ("19-198.trans.txt is not a UTF-8 LibriSpeech transcript",
                                                           "NUL bytes")),
]


@pytest.mark.parametrize("case, error, fragments", CASES, ids=ids(CASES))
def test_bad_input(case, error, fragments, bad_input_base: Base, tmp_path: Path) -> None:
    check_case(case, error, fragments, bad_input_base, tmp_path)
