"""The configs shipped with seqlabel, found by name from any working directory.

The repository's ``configs/*.yaml`` are installed as the package data of ``seqlabel.configs``
(setup.py), so ``seqlabel train fsdd`` works outside the repository. Each file opens with a
one-line description (its first comment line) and names the command that writes its manifests
on a line ``# prepare: seqlabel prepare ...`` (text after two spaces is a remark).

A config argument is a path when a file exists there (a path always wins), else the name of a
shipped config (``fsdd`` or ``fsdd.yaml``).
"""
from __future__ import annotations

import difflib
import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path

from seqlabel.errors import ConfigError

PACKAGE = "seqlabel.configs"
PREPARE_LINE = re.compile(r"^#\s*prepare:\s*(\S.*?)(?:\s{2,}.*)?$")


@dataclass(frozen=True)
class ShippedConfig:
    name: str  # the file name without .yaml: what `seqlabel train NAME` takes
    path: Path
    description: str  # the file's first comment line
    prepare: str  # the `seqlabel prepare ...` command its manifests need ("" when the file names none)


def shipped_dir() -> Path:
    """The folder of the installed configs (``importlib.resources``). An editable install made before
    setup.py listed ``seqlabel.configs`` cannot import it: its checkout's ``configs/`` is the same folder."""
    try:
        return Path(str(importlib.resources.files(PACKAGE)))
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[2] / "configs"
        if checkout.is_dir():
            return checkout
        raise ConfigError(f"the shipped configs ({PACKAGE}) are not installed; reinstall seqlabel "
                          "(pip install seqlabel, or pip install -e . in a checkout)") from None


def shipped_configs() -> dict[str, ShippedConfig]:
    """Every shipped config by name, in name order."""
    found = {}
    for path in sorted(shipped_dir().glob("*.yaml")):
        description, prepare = _header(path)
        found[path.stem] = ShippedConfig(path.stem, path, description, prepare)
    return found


def find_config(spec: str | Path) -> Path:
    """The config file ``spec`` means: an existing file, else the shipped config of that name.

    Raises ConfigError naming what was looked for, with the nearest shipped name and the list."""
    path = Path(spec)
    if path.is_file():
        return path
    text = str(spec)
    if not text.strip():
        raise ConfigError("no config given: name a YAML file or a shipped config (seqlabel configs lists them)")
    shipped = shipped_configs()
    name = path.name[: -len(".yaml")] if path.name.endswith(".yaml") else path.name
    if text == path.name and name in shipped:  # a bare name, not a path to a missing file
        return shipped[name].path
    close = difflib.get_close_matches(name, list(shipped), n=1, cutoff=0.5)
    if text != path.name:
        hint = f"; the shipped config of that name is `{name}`" if name in shipped else (
            f"; did you mean the shipped config `{close[0]}`?" if close else "")
        raise ConfigError(f"config file not found: {spec}{hint} (shipped configs: {', '.join(shipped)}; "
                          "`seqlabel configs` lists them)")
    hint = f"; did you mean `{close[0]}`?" if close else ""
    raise ConfigError(f"no config file {spec!r} here and no shipped config of that name{hint} (shipped configs: "
                      f"{', '.join(shipped)}; `seqlabel configs` lists them)")


def _header(path: Path) -> tuple[str, str]:
    """(first comment line, the `# prepare:` command) of a config file."""
    description, prepare = "", ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        match = PREPARE_LINE.match(line)
        if match and not prepare:
            prepare = match.group(1)
        elif not description:
            description = line.lstrip("#").strip()
    return description, prepare
