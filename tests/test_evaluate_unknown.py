"""``seqlabel evaluate`` on references the model cannot fully spell: tokens outside its vocabulary
are scored as errors and counted in the summary (printed and summary.json), never refused; the
references are put in the model's Unicode normal form."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from bad_input import DIM, Base, write_manifest
from helpers import invoke, ok

from seqlabel import api


def test_evaluate_scores_tokens_the_model_never_saw(bad_input_base: Base, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    texts = ["abz", "a bz", "ca\u0301b", "ab"]  # z and the NFC á are not among the model's a, b, c, |
    for i in range(len(texts)):
        np.save(tmp_path / f"x{i}.npy", rng.standard_normal((20, DIM)).astype(np.float32))
    manifest = write_manifest(tmp_path / "test.jsonl", [{"id": f"spk-x{i}", "source": f"x{i}.npy", "text": t}
                                                        for i, t in enumerate(texts)])
    report = api.evaluate(bad_input_base.checkpoint, manifest, device="cpu", progress=False)
    assert report.unknown is not None and report.unknown.distinct == (("z", 2), ("\u00e1", 1))
    assert report.tokens.total.ref_tokens == 3 + 4 + 3 + 2  # the boundary counts; á is one character
    assert report.words is not None and report.words.total.ref_tokens == 5
    assert report.tokens.total.errors >= 3  # each unknown token is an error the model cannot avoid
    out = ok(invoke("evaluate", bad_input_base.checkpoint, manifest, "--device", "cpu", "--out", tmp_path / "ev"))
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("CER ") and lines[1].startswith("WER ")
    assert lines[2].startswith("3 reference tokens (2 distinct) are not in the model's vocabulary and count as errors")
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text(encoding="utf-8"))
    assert summary["unknown_reference_tokens"]["count"] == 3 and summary["normalization"] == "NFC"
    assert summary["unknown_reference_tokens"]["tokens"][0] == {"token": "z", "count": 2}
