"""seqlabel.scoring.report (summary line, speakers, confusions, sclite pra, JSON) and the report files and
phone folding of ``seqlabel score`` / ``seqlabel evaluate``."""
from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
from helpers import invoke, ok, refused
from test_sclite import find_sclite, write_trn

from seqlabel.data.transcripts import read_kaldi_text
from seqlabel.errors import DataError
from seqlabel.scoring.metrics import score
from seqlabel.scoring.report import (
    confusions,
    confusions_text,
    pra_text,
    speaker_scores,
    speakers_tsv,
    summary_dict,
    summary_line,
)
from seqlabel.scoring.significance import Interval, bootstrap_interval

REFS = {"s1-u1": "a b c d".split(), "s1-u2": "x y".split(), "s2-u3": [], "s2-u4": "hello world foo".split()}
HYPS = {"s1-u1": "a x c".split(), "s1-u2": "x y z z".split(), "s2-u3": ["q"], "s2-u4": []}
SPEAKERS = {u: u.split("-")[0] for u in REFS}



# ----------------------------------------------------------------------------- pure functions
def test_summary_line_names_folding_and_interval() -> None:
    result = score(REFS, HYPS, "phone")
    assert summary_line(result) == "PER 88.89% [8 / 9, 1 sub, 4 del, 3 ins] over 4 utterances"
    ci = Interval(0.038, 0.0466)
    assert summary_line(result, "timit39", ci) == (
        "PER (timit39) 88.89% [95% CI 3.80-4.66] [8 / 9, 1 sub, 4 del, 3 ins] over 4 utterances")
    assert summary_line(score({"u": []}, {"u": ["a"]}, "word")).startswith("WER inf% [1 / 0")


def test_speaker_scores_sum_to_the_corpus() -> None:
    result = score(REFS, HYPS, "word")
    spk = speaker_scores(result, SPEAKERS)
    assert [s.speaker for s in spk] == ["s1", "s2"]
    s1, s2 = (s.stats for s in spk)
    assert (s1.utterances, s1.ref_tokens, s1.substitutions, s1.deletions, s1.insertions) == (2, 6, 1, 1, 2)
    assert (s2.utterances, s2.ref_tokens, s2.errors) == (2, 3, 4)
    assert s1 + s2 == result.total
    tsv = speakers_tsv([result], SPEAKERS).splitlines()
    assert tsv[0].split("\t") == ["name", "speaker", "utterances", "ref_tokens", "sub", "del", "ins", "errors", "rate"]
    assert tsv[1] == "WER\ts1\t2\t6\t1\t1\t2\t4\t66.67" and tsv[2].endswith("\t133.33")
    with pytest.raises(DataError, match="have no speaker"):
        speaker_scores(result, {"s1-u1": "s1"})


def test_confusions_are_counted_and_ordered() -> None:
    refs = {"u1": "a b a b c".split(), "u2": "a b".split()}
    hyps = {"u1": "o b o b".split(), "u2": "x a p".split()}
    c = confusions(score(refs, hyps, "phone"))
    assert c.substitutions == (("a", "o", 2), ("b", "p", 1))
    assert c.deletions == (("c", 1),) and c.insertions == (("x", 1),)
    text = confusions_text(score(refs, hyps, "phone"), top=1, folding="timit39")
    assert text.startswith("PER (timit39): 3 substitutions, 1 deletions, 1 insertions")
    assert "      2  a -> o" in text and "b -> p" not in text  # only the top one


SCLITE_PRA = """

\t\tDUMP OF SYSTEM ALIGNMENT STRUCTURE

System name:   hyp.trn

Speakers: 
    0:  s1
    1:  s2

Speaker sentences   0:  s1   #utts: 2
id: (s1-u1)
Scores: (#C #S #D #I) 2 1 1 0
REF:  a B c D 
HYP:  a X c * 
Eval:   S   D 

id: (s1-u2)
Scores: (#C #S #D #I) 2 0 0 2
REF:  x y * * 
HYP:  x y Z Z 
Eval:     I I 

Speaker sentences   1:  s2   #utts: 2
id: (s2-u3)
Scores: (#C #S #D #I) 0 0 0 1
REF:  * 
HYP:  Q 
Eval: I 

id: (s2-u4)
Scores: (#C #S #D #I) 0 0 3 0
REF:  HELLO WORLD FOO 
HYP:  ***** ***** *** 
Eval: D     D     D   


"""  # sclite 2.10 -o pralign on these files, byte for byte


def test_pra_is_sclites() -> None:
    assert pra_text(score(REFS, HYPS, "word"), SPEAKERS, "hyp.trn") == SCLITE_PRA
    # columns as wide as the wider token
    block = pra_text(score({"s-1": ["abc", "de"]}, {"s-1": ["xy", "de", "f"]}), system="x").split("id: (s-1)\n")[1]
    assert block.splitlines()[1:4] == ["REF:  ABC de * ", "HYP:  XY  de F ", "Eval: S      I "]


@pytest.mark.parametrize("upper", [False, True])
def test_pra_agrees_with_sclite(tmp_path: Path, upper: bool) -> None:
    """Lower-case tokens: sclite's default (errors upper-cased). Upper case present: sclite -s."""
    sclite = find_sclite()
    if sclite is None:
        pytest.skip("sclite not found on PATH or in /usr/lib/sctk/bin (install the Debian package sctk)")
    refs = {**REFS, "s3-u5": ["The", "cat", "Sat"]} if upper else REFS
    hyps = {**HYPS, "s3-u5": ["the", "cat", "Sat", "on"]} if upper else HYPS
    write_trn(tmp_path / "ref.trn", refs)
    write_trn(tmp_path / "hyp.trn", hyps)
    subprocess.run([sclite, "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm", *(["-s"] if upper else []),
                    "-o", "pralign", "-O", ".", "-n", "out"], cwd=tmp_path, check=True, capture_output=True)
    ours = pra_text(score(refs, hyps, "word"), {u: u.split("-")[0] for u in refs}, "hyp.trn")
    assert ours == (tmp_path / "out.pra").read_text()
    assert ("Attributes: Case_sensitve" in ours) == upper


def test_summary_dict_is_strict_json() -> None:
    result = score(REFS, HYPS, "word")
    data = summary_dict(result, None, bootstrap_interval(result), SPEAKERS)
    back = json.loads(json.dumps(data, allow_nan=False))
    assert back["name"] == "WER" and back["unit"] == "word" and back["folding"] is None
    assert (back["errors"], back["ref_tokens"], back["correct"]) == (8, 9, 4)
    assert back["rate"] == pytest.approx(8 / 9) and back["ci"]["level"] == 0.95
    assert [s["speaker"] for s in back["speakers"]] == ["s1", "s2"]
    empty = summary_dict(score({"u": []}, {"u": ["a"]}))  # rate inf: null in JSON
    assert empty["rate"] is None and empty["ci"] is None and "speakers" not in empty
    json.dumps(empty, allow_nan=False)


# ----------------------------------------------------------------------------- seqlabel score
def write_text(path: Path, seqs: dict[str, list[str]]) -> Path:
    path.write_text("".join(" ".join([u, *t]) + "\n" for u, t in seqs.items()), encoding="utf-8")
    return path


def test_score_out_writes_every_report(tmp_path: Path) -> None:
    ref = write_text(tmp_path / "ref", {"spk1_a": list("ab|cd"), "spk1_b": list("ef"), "spk2_c": list("gh|i")})
    hyp = write_text(tmp_path / "hyp", {"spk1_a": list("ab|cx"), "spk1_b": list("ef"), "spk2_c": list("gh|ij")})
    out = tmp_path / "rep"
    result = ok(invoke("score", ref, hyp, "--out", out))
    assert "CER 18.18% [95% CI " in result.output and "WER 40.00% [95% CI " in result.output
    names = {p.name for p in out.iterdir()}
    assert names == {"summary.txt", "summary.json", "cer_utterances.tsv", "wer_utterances.tsv", "speakers.tsv",
                     "confusions.txt", "alignments.pra", "wer_alignments.pra"}
    assert (out / "summary.txt").read_text() == result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tokens"]["name"] == "CER" and summary["tokens"]["errors"] == 2
    assert summary["words"]["errors"] == 2 and summary["words"]["ref_tokens"] == 5
    assert [s["speaker"] for s in summary["tokens"]["speakers"]] == ["spk1", "spk2"]  # from the id prefixes
    assert "d -> x" in (out / "confusions.txt").read_text()
    assert "Speaker sentences   1:  spk2   #utts: 1" in (out / "alignments.pra").read_text()
    assert "REF:  gh I " in (out / "wer_alignments.pra").read_text()


def test_score_folds_phones(tmp_path: Path) -> None:
    ref = write_text(tmp_path / "ref", {"u1": "h# ao zh q ix dcl".split(), "u2": "sh aa".split()})
    hyp = write_text(tmp_path / "hyp", {"u1": "pau aa sh ih bcl".split(), "u2": "zh ao q".split()})
    unfolded = ok(invoke("score", ref, hyp, "--unit", "phone"))
    assert unfolded.output.startswith("PER ")
    folded = ok(invoke("score", ref, hyp, "--unit", "phone", "--fold", "timit39", "--out", tmp_path / "rep"))
    # 7 phones once q is gone; ao = aa, zh = sh, ix = ih, closures and pauses = sil
    assert folded.output.startswith("PER (timit39) 0.00% [95% CI 0.00-0.00] [0 / 7, 0 sub, 0 del, 0 ins]")
    tsv = (tmp_path / "rep" / "per_utterances.tsv").read_text()
    assert "sil aa sh ih sil" in tsv and " q" not in tsv
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["tokens"]["folding"] == "timit39"
    timit48 = ok(invoke("score", ref, hyp, "--unit", "phone", "--fold", "timit48"))
    assert timit48.output.startswith("PER (timit48) ") and not timit48.output.startswith("PER (timit48) 0.00%")


def test_score_fold_refusals(tmp_path: Path) -> None:
    ref = write_text(tmp_path / "ref", {"u1": ["aa", "sh"], "u2": ["iy"]})
    hyp = write_text(tmp_path / "hyp", {"u1": ["aa", "xx"], "u2": ["iy"]})
    refused(invoke("score", ref, hyp, "--fold", "timit39"), "folding 'timit39'", "unit 'char'")
    refused(invoke("score", ref, hyp, "--unit", "phone", "--fold", "timit39"), str(hyp), "'u1'", "'xx'")
    assert invoke("score", ref, hyp, "--unit", "phone", "--fold", "timit61").exit_code == 2  # not a choice


# ----------------------------------------------------------------------------- seqlabel evaluate --fold
def test_evaluate_fold(phone_run: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = ok(invoke("evaluate", phone_run["checkpoint"], phone_run["dev"], "--fold", "timit39", "--out", out,
                       "--device", "cpu"))
    (line,) = result.stdout.splitlines()
    assert line.startswith("PER (timit39) ") and "[95% CI " in line and line.endswith("over 3 utterances")
    assert read_kaldi_text(out / "ref.txt")["spk0-dv0"] == ["aa", "zh", "q"]  # ref.txt: the model's tokens
    rows = [r.split("\t") for r in (out / "per_utterances.tsv").read_text().splitlines()[1:]]
    assert {r[0]: r[7] for r in rows}["spk0-dv0"] == "aa sh"  # scored: folded, q deleted
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tokens"]["folding"] == "timit39" and summary["tokens"]["ref_tokens"] == 6
    assert [s["speaker"] for s in summary["tokens"]["speakers"]] == ["spk0", "spk1"]  # from the manifest
    for name in ("summary.txt", "speakers.tsv", "confusions.txt", "alignments.pra", "hyp.txt"):
        assert (out / name).is_file(), name
    plain = ok(invoke("evaluate", phone_run["checkpoint"], phone_run["dev"], "--device", "cpu"))
    assert plain.stdout.startswith("PER ") and "over 3 utterances" in plain.stdout
    assert math.isfinite(summary["tokens"]["rate"])
