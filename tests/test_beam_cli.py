"""Beam-search decoding through the commands (decode, evaluate, tune, lm train) with click's
CliRunner on the tiny phone model of conftest, and ``api.tune``."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from helpers import invoke, ok, refused


def read_text(path: Path) -> dict[str, list[str]]:
    out = {}
    for line in path.read_text().splitlines():
        utt, *toks = line.split()
        out[utt] = toks
    return out


def test_decode_with_beam_search(phone_run: dict[str, Path], tmp_path: Path) -> None:
    ckpt, dev = phone_run["checkpoint"], phone_run["dev"]
    ok(invoke("decode", ckpt, dev, "--out", tmp_path / "greedy.txt", "--device", "cpu"))
    ok(invoke("decode", ckpt, dev, "--out", tmp_path / "beam1.txt", "--decoder", "beam", "-o", "decode.beam=1",
              "--device", "cpu"))
    wide = ok(invoke("decode", ckpt, dev, "--out", tmp_path / "beam.txt", "--decoder", "beam", "-o", "decode.beam=4",
                     "-o", "decode.nbest=2", "--nbest-out", tmp_path / "nbest.tsv", "--ctm", tmp_path / "hyp.ctm",
                     "--device", "cpu"))
    assert "hyp.ctm" in wide.output
    greedy, beam = read_text(tmp_path / "greedy.txt"), read_text(tmp_path / "beam.txt")
    assert set(beam) == set(greedy) and len(beam) == 3
    rows = (tmp_path / "nbest.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["id", "rank", "score", "acoustic", "lm", "confidence", "tokens"]
    ranks = [r.split("\t")[1] for r in rows[1:]]
    assert set(ranks) <= {"1", "2"} and ranks.count("1") == 3
    for row in rows[1:]:
        utt, rank, *_, tokens = row.split("\t")
        if rank == "1":
            assert tokens.split() == beam[utt]
    ctm = (tmp_path / "hyp.ctm").read_text().splitlines()
    assert len(ctm) == sum(len(t) for t in beam.values())
    assert all(re.fullmatch(r"\S+ 1 \d+\.\d{3} \d+\.\d{3} \S+ [01]\.\d{3}", line) for line in ctm)


def test_evaluate_with_beam_search_and_lm(phone_run: dict[str, Path], phone_lm: Path) -> None:
    ckpt, dev = phone_run["checkpoint"], phone_run["dev"]
    greedy = ok(invoke("evaluate", ckpt, dev, "--device", "cpu")).output
    beam = ok(invoke("evaluate", ckpt, dev, "--decoder", "beam", "-o", "decode.beam=4", "--device", "cpu")).output
    fused = ok(invoke("evaluate", ckpt, dev, "--decoder", "beam", "-o", f"decode.lm={phone_lm}",
                      "-o", "decode.lm_weight=0.3", "--device", "cpu")).output
    for out in (greedy, beam, fused):
        assert re.search(r"PER \d+\.\d+%", out), out


def test_decode_refusals(phone_run: dict[str, Path], tmp_path: Path) -> None:
    ckpt, dev = phone_run["checkpoint"], phone_run["dev"]
    refused(invoke("decode", ckpt, dev, "--out", tmp_path / "h.txt", "-o", "model.hidden_size=3"),
            "only decode.* settings can be overridden")
    refused(invoke("decode", ckpt, dev, "--out", tmp_path / "h.txt", "-o", "decode.beam=0"), "decode.beam must be > 0")
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\taa\n-1.0 sh oops\n\\end\\\n")
    refused(invoke("decode", ckpt, dev, "--out", tmp_path / "h.txt", "--decoder", "beam", "-o", f"decode.lm={bad}"),
            f"{bad}:6")  # the ARPA line that does not parse
    refused(invoke("decode", ckpt, dev, "--out", tmp_path / "h.txt", "--decoder", "beam",
                   "-o", f"decode.lm={tmp_path / 'missing.arpa'}"), "LM file not found")
    words = tmp_path / "words.txt"
    words.write_text("AA\nSH\n")
    refused(invoke("decode", ckpt, dev, "--out", tmp_path / "h.txt", "--decoder", "beam",
                   "-o", f"decode.lexicon={words}"), "word list, but the model's tokens are phones")


def test_lexicon_through_the_cli(phone_run: dict[str, Path], tmp_path: Path) -> None:
    ckpt, dev = phone_run["checkpoint"], phone_run["dev"]
    dic = tmp_path / "tones.dic"
    dic.write_text("LOW aa\nMID ao\nHIGH sh\nTOP zh\nSTOP q\nLOW(2) ao aa\n")
    ok(invoke("decode", ckpt, dev, "--out", tmp_path / "h.txt", "--decoder", "beam", "-o", f"decode.lexicon={dic}",
              "--device", "cpu"))
    assert set(read_text(tmp_path / "h.txt")) == {"spk0-dv0", "spk1-dv1", "spk0-dv2"}
    foreign = tmp_path / "foreign.dic"
    foreign.write_text("LOW aa\nODD xx yy\n")
    refused(invoke("decode", ckpt, dev, "--out", tmp_path / "h.txt", "--decoder", "beam",
                   "-o", f"decode.lexicon={foreign}"), "token(s) the model does not have", "xx")


def test_tune_prints_a_table_and_the_best_setting(phone_run: dict[str, Path], phone_lm: Path) -> None:
    out = ok(invoke("tune", phone_run["checkpoint"], phone_run["dev"], "--lm", phone_lm, "--weights", "0,0.5",
                    "--bonus", "0,1", "--beam", "4", "--device", "cpu")).output
    lines = out[out.index("lm_weight"):].strip().splitlines()  # after the progress bars
    assert lines[0].split() == ["lm_weight", "bonus", "PER"]
    assert len(lines) == 1 + 4 + 1 + 1  # header, grid, greedy, best
    assert lines[5].split()[0] == "greedy"
    assert re.fullmatch(rf"best: --decoder beam -o decode\.beam=4 -o decode\.lm={re.escape(str(phone_lm))} "
                        r"-o decode\.lm_unit=token -o decode\.lm_weight=\S+ -o decode\.insertion_bonus=\S+ "
                        r"\(PER \d+\.\d+%; greedy \d+\.\d+%\)", lines[-1])
    refused(invoke("tune", phone_run["checkpoint"], phone_run["dev"], "--weights", "a,b"), "comma-separated numbers")


def test_tune_api_matches_decoding_each_setting(phone_run: dict[str, Path], phone_lm: Path) -> None:
    from seqlabel import api

    report = api.tune(phone_run["checkpoint"], phone_run["dev"], [0.4], [0.5], [f"decode.lm={phone_lm}", "decode.beam=4"],
                      device="cpu", progress=False)
    direct = api.evaluate(phone_run["checkpoint"], phone_run["dev"], device="cpu", progress=False,
                          overrides=["decode.decoder=beam", f"decode.lm={phone_lm}", "decode.beam=4",
                                     "decode.lm_weight=0.4", "decode.insertion_bonus=0.5"])
    assert report.rows[0].tokens == direct.tokens.total
    assert report.best == report.rows[0]
    json.dumps(report.table())
    assert math.isfinite(report.greedy.tokens.rate)
