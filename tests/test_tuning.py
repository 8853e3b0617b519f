"""``seqlabel tune`` (``seqlabel.inference.tuning``): the recommendation is never worse than greedy
decoding, is a complete command-line fragment that decodes as tuned, says when the best is on the
edge of the grid, and tunes only the insertion bonus when there is no LM."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from helpers import invoke, ok

from seqlabel import api
from seqlabel.inference.tuning import TuneReport, TuneRow, next_values
from seqlabel.types import ErrorStats


def row(w: float | None, b: float | None, errors: int) -> TuneRow:
    return TuneRow(w, b, ErrorStats(substitutions=errors, ref_tokens=100, utterances=10), None)


def report(rows: list[TuneRow], greedy_errors: int, weights=(0.2, 0.5, 0.8), bonuses=(0.0, 1.0)) -> TuneReport:
    return TuneReport(tuple(rows), row(None, None, greedy_errors), "PER", "token",
                      ("decode.beam=8", "decode.lm=my lm.arpa", "decode.lm_unit=token"), weights, bonuses)


def grid(errors: dict[tuple[float, float], int]) -> list[TuneRow]:
    return [row(w, b, e) for (w, b), e in errors.items()]


def test_never_recommends_worse_than_greedy() -> None:
    worse = report(grid({(w, b): 12 for w in (0.2, 0.5, 0.8) for b in (0.0, 1.0)}), greedy_errors=10)
    assert worse.best.lm_weight == 0.2 and worse.recommended.is_greedy
    last = worse.table().splitlines()
    assert [ln for ln in last if ln.startswith("best: ")] == ["best: --decoder greedy (PER 10.00%)"]
    assert any("no setting of the grid beats greedy decoding (best PER 12.00%" in ln for ln in last)
    tie = report(grid({(0.2, 0.0): 10, (0.5, 0.0): 11}), greedy_errors=10, weights=(0.2, 0.5), bonuses=(0.0,))
    assert tie.recommended.is_greedy  # a tie goes to the simpler decoder
    better = report(grid({(0.2, 0.0): 9}), greedy_errors=10, weights=(0.2,), bonuses=(0.0,))
    assert better.recommended == better.best and not better.recommended.is_greedy


def test_best_line_is_a_complete_fragment() -> None:
    r = report(grid({(0.2, 0.0): 9, (0.5, 0.0): 8, (0.8, 0.0): 9}), greedy_errors=10, bonuses=(0.0,))
    (best,) = [ln for ln in r.table().splitlines() if ln.startswith("best: ")]
    assert best == ("best: --decoder beam -o decode.beam=8 -o 'decode.lm=my lm.arpa' -o decode.lm_unit=token "
                    "-o decode.lm_weight=0.5 -o decode.insertion_bonus=0 (PER 8.00%; greedy 10.00%)")
    assert shlex.split(r.command())[:2] == ["--decoder", "beam"]
    assert "decode.lm=my lm.arpa" in shlex.split(r.command())  # a path with a space survives the shell


def test_best_on_the_edge_of_the_grid_suggests_the_next_values() -> None:
    r = report(grid({(w, b): 20 - int(10 * w) - int(b) for w in (0.2, 0.5, 0.8) for b in (0.0, 1.0)}), 30)
    assert (r.best.lm_weight, r.best.insertion_bonus) == (0.8, 1.0)
    notes = r.notes()
    assert "the best LM weight, 0.8, is the largest tried: try --weights 0.8,1.1,1.4" in notes
    assert "the best insertion bonus, 1, is the largest tried: try --bonus 1,2,3" in notes
    inside = report(grid({(0.2, 0.0): 12, (0.5, 0.0): 9, (0.8, 0.0): 11}), 30, bonuses=(0.0,))
    assert not [n for n in inside.notes() if "tried" in n]


@pytest.mark.parametrize("axis, best, floor, expected", [
    ((0.2, 0.5, 0.8), {0.8}, 0.0, "0.8,1.1,1.4"),
    ((0.2, 0.5, 0.8), {0.2}, 0.0, "0,0.2"),  # weights stay >= 0
    ((0.0, 0.5), {0.0}, 0.0, ""),  # nothing below 0 to try
    ((-1.0, 0.0, 1.0), {-1.0}, None, "-3,-2,-1"),
    ((0.2, 0.5, 0.8), {0.5}, 0.0, ""),  # inside the grid
    ((0.2, 0.5, 0.8), {0.2, 0.5}, 0.0, ""),  # as good inside: not an edge
    ((0.2, 0.5), {0.2, 0.5}, 0.0, ""),  # the axis does not matter
    ((0.5,), {0.5}, 0.0, ""),  # one value: nothing to say
])
def test_next_values(axis, best, floor, expected) -> None:
    assert next_values(axis, best, floor) == expected


# ----------------------------------------------------------------------------- on a trained model
def test_pasting_the_best_line_decodes_as_tuned(phone_run: dict[str, Path], phone_lm: Path) -> None:
    out = ok(invoke("tune", phone_run["checkpoint"], phone_run["dev"], "--lm", phone_lm, "--weights", "0.3,1",
                    "--bonus", "-1,0.5", "--beam", "4", "--device", "cpu")).output
    (best,) = [ln for ln in out.splitlines() if ln.startswith("best: ")]
    fragment, rate = re.fullmatch(r"best: (.*) \(PER (\d+\.\d+)%.*\)", best).groups()
    assert fragment != "--decoder greedy" or "beats greedy" in out
    pasted = ok(invoke("evaluate", phone_run["checkpoint"], phone_run["dev"], *shlex.split(fragment),
                       "--device", "cpu")).stdout
    assert pasted.startswith(f"PER {rate}% "), (best, pasted)


def test_without_an_lm_only_the_bonus_is_tuned(phone_run: dict[str, Path]) -> None:
    result = api.tune(phone_run["checkpoint"], phone_run["dev"], [0.2, 0.5, 0.8], [0.0, 1.0], ["decode.beam=4"],
                      device="cpu", progress=False)
    assert isinstance(result, api.TuneReport)
    assert [(r.lm_weight, r.insertion_bonus) for r in result.rows] == [(None, 0.0), (None, 1.0)]
    table = result.table()
    assert "only the insertion bonus was tuned" in table
    (best,) = [ln for ln in table.splitlines() if ln.startswith("best: ")]
    assert "lm_weight" not in best and "decode.lm=" not in best
    assert result.rate(result.recommended) <= result.rate(result.greedy)
