"""seqlabel.config.shipped: the repository's configs/*.yaml are installed as the package data of
seqlabel.configs and found by name from any folder (a path that exists wins); each names its
description and its prepare command; `seqlabel configs` lists them."""
from __future__ import annotations

import importlib.resources
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import invoke, ok, refused

from seqlabel.config import load_config
from seqlabel.config.shipped import find_config, shipped_configs, shipped_dir
from seqlabel.corpora import RECIPES
from seqlabel.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))


def test_the_installed_package_holds_every_config_of_the_repository() -> None:
    assert SOURCE and list(shipped_configs()) == SOURCE
    try:
        installed = Path(str(importlib.resources.files("seqlabel.configs")))
    except ModuleNotFoundError:  # an editable install made before setup.py listed seqlabel.configs
        pytest.skip("seqlabel.configs is not importable in this install: run `pip install -e .` again")
    assert shipped_dir() == installed


@pytest.mark.parametrize("name", SOURCE)
def test_every_config_is_found_by_name_and_loads(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # outside the repository: no configs/ folder here
    for spec in (name, f"{name}.yaml"):
        path = find_config(spec)
        assert path.read_bytes() == (ROOT / "configs" / f"{name}.yaml").read_bytes()
        config = load_config(path)
        assert config.data.train and config.data.train.startswith("data/"), config.data.train


@pytest.mark.parametrize("name", SOURCE)
def test_every_config_names_its_description_and_a_known_prepare_command(name: str) -> None:
    shipped = shipped_configs()[name]
    assert shipped.description and not shipped.description.startswith("#")
    words = shipped.prepare.split()
    assert words[:2] == ["seqlabel", "prepare"] and words[2] in RECIPES, shipped.prepare
    out = words[words.index("--out") + 1] if "--out" in words else f"data/{words[2]}"
    assert load_config(shipped.path).data.train == f"{out}/train.jsonl"  # the folder prepare writes to


def test_a_path_that_exists_wins_over_a_shipped_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fsdd").write_text(yaml.safe_dump({"model": {"num_layers": 1}}), encoding="utf-8")
    Path("demo.yaml").write_text(yaml.safe_dump({"model": {"num_layers": 2}}), encoding="utf-8")
    assert find_config("fsdd") == Path("fsdd") and load_config(find_config("fsdd")).model.num_layers == 1
    assert find_config("demo.yaml") == Path("demo.yaml")
    assert find_config("demo") == shipped_configs()["demo"].path  # no file named demo here


def test_unknown_names_and_missing_paths_say_what_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"no config file 'fsd'.*did you mean `fsdd`\?.*seqlabel configs"):
        find_config("fsd")
    with pytest.raises(ConfigError, match=r"config file not found: configs/fsdd.yaml; the shipped config of that "
                                          r"name is `fsdd`"):
        find_config("configs/fsdd.yaml")  # the README's path, typed outside the repository
    refused(invoke("train", "fsdd.yml", "--out", tmp_path / "exp"), "did you mean `fsdd`?")
    assert not (tmp_path / "exp").exists()


def test_cli_configs_lists_names_descriptions_and_prepare_commands() -> None:
    output = ok(invoke("configs")).output
    for name, shipped in shipped_configs().items():
        assert f"{name} " in output and shipped.description in output and f"prepare: {shipped.prepare}" in output


# Runs in a fresh interpreter from a folder outside the repository, with the package as setup.py
# installs it (build_py: the packages and their package data, corpora/ and configs/ mapped in).
INSTALLED = """
import json, sys
import seqlabel
from seqlabel.config import load_config
from seqlabel.config.shipped import find_config, shipped_configs
found = {name: str(find_config(name)) for name in shipped_configs()}
for path in found.values():
    load_config(path)
print(json.dumps({"package": seqlabel.__file__, "configs": found}))
"""


def test_setup_py_installs_the_configs_as_package_data(tmp_path: Path) -> None:
    build = tmp_path / "build"
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(build)}
    done = subprocess.run([sys.executable, "-c", INSTALLED], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["package"] == str(build / "seqlabel" / "__init__.py")  # the built copy, not the checkout
    assert sorted(result["configs"]) == SOURCE
    assert all(Path(p).parent == build / "seqlabel" / "configs" for p in result["configs"].values())
