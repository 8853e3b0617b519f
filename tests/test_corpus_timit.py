"""TIMIT recipe (corpora/timit) on fixture trees in the LDC layout: real SPHERE headers, real
speaker lists, file names in upper or lower case, tiny audio; and configs/timit_graves2013.yaml
trained end to end on such a tree."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pytest
from click.testing import CliRunner

from seqlabel.cli import main
from seqlabel.config import load_config
from seqlabel.corpora import run_recipe
from seqlabel.corpora.timit import read_phn
from seqlabel.corpora.timit.speakers import CORE_TEST, CORE_TEST_SPEAKERS, DEV_SPEAKERS, SENTENCES_PER_SPEAKER
from seqlabel.data.manifest import read_manifest
from seqlabel.errors import ConfigError, DataError
from seqlabel.features.audio import audio_info, read_sphere_header
from seqlabel.scoring.folding import FOLD_61_39, FOLD_61_48, TIMIT61

REPO = Path(__file__).resolve().parents[1]
RATE = 16000
SENTENCES = ("SA1", "SA2", "SI1027", "SI1657", "SI648", "SX127", "SX217", "SX307", "SX37", "SX397")


def write_sphere(path: Path, samples: np.ndarray, rate: int = RATE, coding: str = "pcm") -> Path:
    """A NIST SPHERE file as TIMIT has them: 1024-byte ASCII header, little-endian 16-bit samples."""
    fields = ["NIST_1A", "   1024", "database_id -s5 TIMIT", f"sample_count -i {len(samples)}",
              f"sample_rate -i {rate}", "channel_count -i 1", "sample_n_bytes -i 2", "sample_byte_format -s2 01",
              f"sample_coding -s{len(coding)} {coding}", "sample_sig_bits -i 16", "end_head"]
    header = ("\n".join(fields) + "\n").encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.ljust(1024, b" ") + samples.astype("<i2").tobytes())
    return path


def write_utterance(folder: Path, sentence: str, phones: list[str], seconds: float, lower: bool, seed: int) -> None:
    """SENTENCE.WAV/.PHN/.WRD/.TXT; the phone segments split the audio evenly."""
    n = int(seconds * RATE)
    rng = np.random.default_rng(seed)
    name = sentence.lower() if lower else sentence
    ext = (lambda s: s.lower()) if lower else (lambda s: s)
    write_sphere(folder / f"{name}{ext('.WAV')}", (3000 * rng.standard_normal(n)).clip(-32000, 32000))
    edges = np.linspace(0, n, len(phones) + 1).astype(int)
    (folder / f"{name}{ext('.PHN')}").write_text(
        "".join(f"{a} {b} {p}\n" for a, b, p in zip(edges[:-1], edges[1:], phones)), encoding="ascii")
    (folder / f"{name}{ext('.WRD')}").write_text(f"{edges[1]} {edges[-2]} word\n", encoding="ascii")
    (folder / f"{name}{ext('.TXT')}").write_text(f"0 {n} Word.\n", encoding="ascii")


def phones_for(seed: int) -> list[str]:
    """h# + 3 phones drawn from the 61 (the middle one q in every third utterance) + h#."""
    rng = np.random.default_rng(seed)
    inner = [p for p in TIMIT61 if p != "h#"]
    drawn = [inner[i] for i in rng.integers(0, len(inner), 3)]
    return ["h#", drawn[0], "q" if seed % 3 == 0 else drawn[1], drawn[2], "h#"]


def make_timit(root: Path, train: Iterable[str], test: dict[str, Iterable[str]], lower: bool = False,
               seconds: tuple[float, float] = (0.1, 0.3)) -> Path:
    """A TIMIT tree: ``train`` speakers in TRAIN/DR1, ``test`` {region: speakers} in TEST, 10 sentences each."""
    case = str.lower if lower else str.upper
    rng = np.random.default_rng(0)
    layout = [("TRAIN", "DR1", s) for s in train] + [("TEST", r, s) for r, ss in test.items() for s in ss]
    for k, (part, region, speaker) in enumerate(layout):
        folder = root / case(part) / case(region) / case(speaker)
        folder.mkdir(parents=True, exist_ok=True)
        for j, sentence in enumerate(SENTENCES):
            write_utterance(folder, sentence, phones_for(100 * k + j), float(rng.uniform(*seconds)), lower, 100 * k + j)
    return root


def full_test_part() -> dict[str, list[str]]:
    """Every core and dev speaker (dev ones put in DR1-8 in turn) and two test speakers in neither list."""
    regions = {r: list(speakers) for r, speakers in CORE_TEST_SPEAKERS.items()}
    for i, speaker in enumerate(DEV_SPEAKERS):
        regions[f"dr{i % 8 + 1}"].append(speaker)
    regions["dr3"] += ["mxyz0", "fxyz1"]
    return regions


@pytest.fixture(scope="module")
def timit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_timit(tmp_path_factory.mktemp("timit") / "TIMIT", ["fcjf0", "mdpk0", "fdaw0"], full_test_part())


@pytest.fixture(scope="module")
def prepared(timit: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("timit_out")
    run_recipe("timit", timit.parent, out, {})
    return out


# ----------------------------------------------------------------------------- speaker lists
def test_speaker_lists_are_the_standard_ones() -> None:
    assert len(CORE_TEST) == len(set(CORE_TEST)) == 24 and len(DEV_SPEAKERS) == len(set(DEV_SPEAKERS)) == 50
    assert not set(CORE_TEST) & set(DEV_SPEAKERS)
    for region, speakers in CORE_TEST_SPEAKERS.items():  # 2 male + 1 female per dialect region
        assert sorted(s[0] for s in speakers) == ["f", "m", "m"], region


# ----------------------------------------------------------------------------- SPHERE audio
def test_sphere_header_and_audio_are_read(tmp_path: Path) -> None:
    samples = (np.arange(1600) % 200 - 100) * 50
    path = write_sphere(tmp_path / "SI1027.WAV", samples)
    header = read_sphere_header(path)
    assert header is not None and header["sample_rate"] == RATE and header["sample_coding"] == "pcm"
    info = audio_info(path)
    assert (info.sample_rate, info.frames, info.channels) == (RATE, 1600, 1)
    from seqlabel.features.audio import read_samples

    assert np.array_equal(np.round(read_samples(path)[:, 0] * 32768), samples)
    assert read_sphere_header(write_sphere(tmp_path / "x.wav", samples).with_name("x.wav")) is not None


def test_shorten_sphere_names_the_file_and_sph2pipe(tmp_path: Path) -> None:
    path = write_sphere(tmp_path / "SX37.WAV", np.zeros(800), coding="pcm,embedded-shorten-v2.00")
    with pytest.raises(DataError, match=r"SX37\.WAV.*shorten.*sph2pipe"):
        audio_info(path)


# ----------------------------------------------------------------------------- discovery and splits
def test_standard_splits_from_the_real_speaker_lists(prepared: Path) -> None:
    splits = {s: read_manifest(prepared / f"{s}.jsonl") for s in ("train", "dev", "test")}
    test_speakers = {u.speaker for u in splits["test"]}
    assert test_speakers == set(CORE_TEST) and len(splits["test"]) == 24 * SENTENCES_PER_SPEAKER == 192
    assert {u.speaker for u in splits["dev"]} == set(DEV_SPEAKERS) and len(splits["dev"]) == 400
    assert {u.speaker for u in splits["train"]} == {"fcjf0", "mdpk0", "fdaw0"} and len(splits["train"]) == 24
    everything = [u for us in splits.values() for u in us]
    assert not any(u.id.split("_")[1].startswith("sa") for u in everything)  # SA sentences dropped
    assert "mxyz0" not in {u.speaker for u in everything}  # test speakers in neither list are left out
    stats = json.loads((prepared / "stats.json").read_text())
    assert stats["test"]["utterances"] == 192 and stats["test"]["speakers"] == 24
    assert stats["dev"]["speakers"] == 50 and stats["train"]["unit"] == "phone"


def test_utterance_fields_and_61_phone_labels(timit: Path, prepared: Path) -> None:
    utt = {u.id: u for u in read_manifest(prepared / "test.jsonl")}["mdab0_si1027"]
    wav = timit / "TEST" / "DR1" / "MDAB0" / "SI1027.WAV"
    assert utt.speaker == "mdab0" and Path(utt.source) == wav.resolve()
    assert utt.duration == pytest.approx(audio_info(wav).duration)
    assert utt.text.split() == read_phn(wav.with_suffix(".PHN"))
    assert utt.text.split()[0] == "h#"


@pytest.mark.parametrize("phones,table", [("48", FOLD_61_48), (39, FOLD_61_39)])
def test_folding_at_prepare_time(timit: Path, prepared: Path, tmp_path: Path, phones: str | int, table: dict) -> None:
    folded = {u.id: u.text.split() for u in read_manifest(
        run_recipe("timit", timit, tmp_path, {"phones": phones})["train"])}
    original = {u.id: u.text.split() for u in read_manifest(prepared / "train.jsonl")}
    assert folded.keys() == original.keys()
    for utt_id, phones61 in original.items():
        assert folded[utt_id] == [table[p] for p in phones61 if table[p] is not None]
    assert any("q" in p for p in original.values()) and not any("q" in p for p in folded.values())


def test_lower_case_tree(tmp_path: Path) -> None:
    root = make_timit(tmp_path / "timit", ["fcjf0"], {"dr1": ["mdab0", "faks0"]}, lower=True)
    (root / "train" / "dr1" / "fcjf0" / "si1027.wav.wav").write_bytes(b"RIFF")  # a converted copy: ignored
    splits = run_recipe("timit", root, tmp_path / "out", {})
    assert [u.speaker for u in read_manifest(splits["test"])] == ["mdab0"] * 8
    assert len(read_manifest(splits["dev"])) == 8 and len(read_manifest(splits["train"])) == 8
    report = (tmp_path / "out" / "validation.txt").read_text()
    assert "missing-speaker" in report and "mwbt0" in report and "felc0" in report
    assert "no-transcript" not in report and "unreadable" not in report


# ----------------------------------------------------------------------------- planted faults
def small_tree(root: Path) -> Path:
    return make_timit(root, ["fcjf0", "mdpk0"], {"dr1": ["mdab0", "faks0"]})


def test_phn_without_wav_is_fatal_and_reported(tmp_path: Path) -> None:
    root = small_tree(tmp_path / "t")
    (root / "TRAIN" / "DR1" / "MDPK0" / "SX37.WAV").unlink()
    with pytest.raises(DataError, match=r"fatal.*validation.txt.*\[no-audio\] mdpk0_sx37"):
        run_recipe("timit", root, tmp_path / "out", {})
    assert "mdpk0_sx37" in (tmp_path / "out" / "validation.txt").read_text()
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_wav_without_phn_is_skipped_and_reported(tmp_path: Path) -> None:
    root = small_tree(tmp_path / "t")
    (root / "TRAIN" / "DR1" / "FCJF0" / "SI648.PHN").unlink()
    splits = run_recipe("timit", root, tmp_path / "out", {})
    assert "fcjf0_si648" not in {u.id for u in read_manifest(splits["train"])}
    assert "[no-transcript] 1" in (tmp_path / "out" / "validation.txt").read_text()


def test_unreadable_and_shorten_audio_are_fatal(tmp_path: Path) -> None:
    root = small_tree(tmp_path / "t")
    write_sphere(root / "TEST" / "DR1" / "MDAB0" / "SX127.WAV", np.zeros(1600), coding="pcm,embedded-shorten-v2.00")
    (root / "TRAIN" / "DR1" / "FCJF0" / "SX37.WAV").write_bytes(b"not audio at all")
    with pytest.raises(DataError, match="2 fatal") as err:
        run_recipe("timit", root, tmp_path / "out", {})
    assert "SX37.WAV" in str(err.value)
    report = (tmp_path / "out" / "validation.txt").read_text()
    assert "[unreadable-file] 2 FATAL" in report and "sph2pipe" in report and "SX127.WAV" in report


def test_duration_outlier_and_sample_rate_are_reported(tmp_path: Path) -> None:
    root = small_tree(tmp_path / "t")
    folder = root / "TRAIN" / "DR1" / "FCJF0"
    write_sphere(folder / "SX127.WAV", np.zeros(int(4.0 * RATE)))
    write_sphere(folder / "SX217.WAV", np.zeros(1600), rate=8000)
    run_recipe("timit", root, tmp_path / "out", {})
    report = (tmp_path / "out" / "validation.txt").read_text()
    assert "[duration-outlier] 1" in report and "fcjf0_sx127" in report
    assert "[sample-rate] 1" in report and "fcjf0_sx217\t8000 Hz" in report


def test_bad_phn_lines_name_file_and_line(tmp_path: Path) -> None:
    root = small_tree(tmp_path / "t")
    phn = root / "TRAIN" / "DR1" / "FCJF0" / "SI1027.PHN"
    phn.write_text("0 100 h#\n100 900 xx\n")
    with pytest.raises(DataError, match=r"SI1027.PHN:2: 'xx' is not one of the 61"):
        run_recipe("timit", root, tmp_path / "out", {})
    phn.write_text("0 100 h#\n100 h#\n")
    with pytest.raises(DataError, match=r"SI1027.PHN:2: expected"):
        run_recipe("timit", root, tmp_path / "out", {})


def test_bad_options_and_layout(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="phones must be one of 61, 48, 39"):
        run_recipe("timit", tmp_path, tmp_path / "out", {"phones": 60})
    (tmp_path / "TRAIN").mkdir()
    with pytest.raises(DataError, match="no TRAIN and TEST folders"):
        run_recipe("timit", tmp_path, tmp_path / "out", {})


# ----------------------------------------------------------------------------- the Graves 2013 config
def test_graves2013_configs_state_the_paper_setup() -> None:
    for name, layers in (("timit_graves2013.yaml", 3), ("timit_graves2013_5l.yaml", 5)):
        config = load_config(REPO / "configs" / name)
        assert (config.model.num_layers, config.model.hidden_size) == (layers, 250)
        assert (config.features.num_bins, config.features.energy, config.features.deltas) == (40, True, 2)
        assert (config.train.optimizer, config.train.lr, config.train.momentum) == ("sgd", 1e-4, 0.9)
        assert config.train.weight_noise == 0.075 and config.train.weight_noise_phase == "restart"
        assert config.decode.decoder == "beam" and config.data.unit == "phone"


def test_graves2013_trains_end_to_end_on_the_fixture(tmp_path: Path) -> None:
    root = make_timit(tmp_path / "timit", ["fcjf0", "mdpk0", "fdaw0"], {"dr1": ["mdab0", "faks0"]})
    data = tmp_path / "data"
    runner = CliRunner()
    prep = runner.invoke(main, ["prepare", "timit", "--data-dir", str(root), "--out", str(data)])
    assert prep.exit_code == 0, prep.output
    vocab = data / "tokens.txt"  # the real training part holds all 61 phones, this tiny one does not
    vocab.write_text("\n".join(["<blank>", *TIMIT61]) + "\n", encoding="utf-8")
    overrides = [f"data.vocab={vocab}", f"data.train={data / 'train.jsonl'}", f"data.dev={data / 'dev.jsonl'}",
                 f"data.test={data / 'test.jsonl'}", "model.hidden_size=8", "model.num_layers=1",
                 "train.max_epochs=2", "train.max_batch_size=8",
                 "train.progress=false", "train.tensorboard=false", "train.device=cpu", "decode.beam=4"]
    args = ["train", str(REPO / "configs" / "timit_graves2013.yaml"), "--out", str(tmp_path / "exp")]
    trained = runner.invoke(main, args + [a for o in overrides for a in ("-o", o)])
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "exp" / "best.pt").is_file() and "PER" in trained.output
    scored = runner.invoke(main, ["evaluate", str(tmp_path / "exp" / "best.pt"), str(data / "test.jsonl"),
                                  "--fold", "timit39", "--out", str(tmp_path / "eval")])
    assert scored.exit_code == 0, scored.output
    assert "PER (timit39)" in scored.output and (tmp_path / "eval" / "hyp.txt").is_file()
