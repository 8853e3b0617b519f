"""The config of a resumed run: the run folder's own ``config.yaml``, not the file on the command line.

A run records the ``-o`` overrides it was started with in ``overrides.txt`` beside ``config.yaml``.
``--resume`` then needs no config at all; a config given anyway must be the one the run started from
(with those overrides applied it must equal ``config.yaml`` in every key that shapes the run), and its
settings that are safe to change mid-run (``SAFE_ON_RESUME``) apply, as do ``-o`` overrides of those
keys. Any other difference is refused with the key and why: the checkpoint was made under it.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional, Sequence

from seqlabel.config import Config, config_from_data, load_config, to_dict
from seqlabel.errors import CheckpointError, ConfigError
from seqlabel.training.folder import CONFIG as CONFIG_NAME
from seqlabel.training.folder import OVERRIDES as OVERRIDES_NAME
from seqlabel.training.folder import RunFolder

log = logging.getLogger(__name__)

# Keys that change how the rest of the run goes, not what it continues from; a "." ending names a section.
SAFE_ON_RESUME = ("train.max_epochs", "train.early_stop_patience", "train.device", "train.threads", "train.progress",
                  "train.num_workers", "train.save_every_steps", "train.tensorboard", "train.max_nonfinite_steps",
                  "train.max_nonfinite_fraction", "data.test", "decode.")
WHY = {"model": "the checkpoint's weights have the shape it sets",
       "features": "the model learnt from these features (and last.pt holds their normalisation statistics)",
       "data": "the run's vocabulary, batches and early stopping come from it",
       "train": "last.pt's optimizer state, schedule and random streams were made under it, so the resumed run "
                "would no longer continue the same training"}


def is_safe(key: str) -> bool:
    return any(key == safe or (safe.endswith(".") and key.startswith(safe)) for safe in SAFE_ON_RESUME)


def write_overrides(out_dir: Path, overrides: Sequence[str]) -> None:
    """Record the ``-o`` overrides a new run starts with (one per line; empty without any)."""
    (out_dir / OVERRIDES_NAME).write_text("".join(f"{o.strip()}\n" for o in overrides), encoding="utf-8")


def resume_config(out_dir: Path, given: Optional[Config], overrides: Sequence[str], given_name: str = "CONFIG") -> Config:
    """The config to resume the run in ``out_dir`` with: its ``config.yaml``, with the safe keys of
    ``given`` (the config on the command line, loaded without overrides; None when omitted) and of
    ``overrides``. ``given`` with the run's recorded start overrides and ``overrides`` must equal
    ``config.yaml`` in every other key, and ``overrides`` may repeat but not change them. Prints
    which keys changed; refuses anything else naming the key and why."""
    if not RunFolder(out_dir).last.exists():
        raise CheckpointError(f"--resume: no {out_dir / 'last.pt'} to resume from; train without --resume")
    saved_path = out_dir / CONFIG_NAME
    if not saved_path.is_file():
        raise CheckpointError(f"--resume: {saved_path} is missing, so the run's config is unknown; put the run's "
                              "config.yaml back (its last.pt holds a copy under the key 'config')")
    saved = _flat(to_dict(load_config(saved_path)))
    with_overrides = _flat(to_dict(_build(_nested(saved), list(overrides), "-o")))  # typos named as such
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        if not is_safe(key) and with_overrides.get(key) != saved.get(key):
            raise ConfigError(f"--resume: -o {item} is not allowed: {WHY[key.split('.')[0]]}. On resume only these "
                              f"can change: {', '.join(SAFE_ON_RESUME)} (a '.' ending: the whole section); to change "
                              f"{key}, train into a new --out")
    values = dict(saved)
    if given is not None:
        started = _started_with(out_dir)
        as_started = _flat(to_dict(_build(to_dict(given), [*started, *overrides], str(out_dir / OVERRIDES_NAME))))
        given_values = _flat(to_dict(given))
        for key, value in saved.items():
            if is_safe(key):
                values[key] = given_values[key]
            elif as_started[key] != value:
                raise ConfigError(f"--resume: {given_name} sets {key}={as_started[key]!r}, but the run in {out_dir} was "
                                  f"trained with {key}={value!r} ({saved_path}"
                                  f"{'; started with ' + ' '.join('-o ' + o for o in started) if started else ''}): "
                                  f"{WHY[key.split('.')[0]]}. Omit {given_name} to resume with the run's own config, "
                                  f"or train into a new --out")
    config = _build(_nested(values), list(overrides), "-o")
    final = _flat(to_dict(config))
    changed = {k: (saved[k], v) for k, v in final.items() if v != saved[k]}
    log.info(f"resuming with {saved_path}" + ("; changed for the rest of the run: " + ", ".join(
        f"{k} {old!r} -> {new!r}" for k, (old, new) in changed.items()) if changed else ""))
    return config


def _started_with(out_dir: Path) -> list[str]:
    path = out_dir / OVERRIDES_NAME
    if not path.is_file():  # a run from before overrides were recorded: none known
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _build(data: dict[str, Any], overrides: list[str], where: str) -> Config:
    try:
        return config_from_data(data, overrides)
    except ConfigError as e:
        raise ConfigError(f"--resume: {where}: {e}") from None


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 1}} -> {"train.lr": 1} (lists and scalars are leaves)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out
