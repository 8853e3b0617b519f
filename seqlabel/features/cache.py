"""An on-disk cache of raw (unnormalised) features: extract once, memory-map afterwards.

    <cache_dir>/<config key>/config.json        the feature config the key was made from
    <cache_dir>/<config key>/<entry key>.npy    one utterance's (T, F) float32 features

The config key hashes the feature config (minus ``cache_dir``, ``cmvn`` and the train-time
``augment`` section, which do not change the raw features it stores) and ``CACHE_VERSION``; the
entry key hashes the source path, its size and modification time and the segment (start, end).
So a config change, an edited source file or a new extractor version (bump ``CACHE_VERSION``) all
miss the old entries instead of reading them.

Entries are written to a temporary file and renamed into place, so concurrent writers (several
training runs, DDP ranks) never expose a half-written file. An entry that cannot be read, is not
a 2-D float32 array of the extractor's width or holds non-finite values is re-extracted and
overwritten (counted in ``CacheStats.repaired``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from seqlabel.config import FeatureConfig
from seqlabel.errors import ConfigError
from seqlabel.types import Utterance

CACHE_VERSION = 1  # bump when an extractor's output changes for the same config
MAX_MAPS = 20_000  # entries memory-mapped per cache; later ones are read into memory (the kernel
# limits a process to vm.max_map_count, usually 65530, maps)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    repaired: int = 0  # corrupt entries found and re-extracted
    uncached: int = 0  # utterances whose source is not a file (extracted every time)


def config_key(config: FeatureConfig) -> str:
    """Hex digest identifying the raw features ``config`` produces."""
    data = dataclasses.asdict(config)
    data.pop("cache_dir", None)
    data.pop("cmvn", None)
    data.pop("augment", None)  # augmented features are never cached: the cache serves the plain ones
    blob = json.dumps({"version": CACHE_VERSION, "features": data}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def entry_key(utt: Utterance) -> Optional[str]:
    """Hex digest of the utterance's source file (path, size, mtime) and segment; None when the
    source is not a readable file (such utterances are not cached)."""
    path = os.path.abspath(utt.source)
    try:
        st = os.stat(path)
    except OSError:
        return None
    blob = f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{utt.start}\0{utt.end}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


class FeatureCache:
    """Raw features of ``extractor``'s config under ``root``; ``get(utt, extract)`` reads or fills."""

    def __init__(self, root: str | Path, config: FeatureConfig, dim: Optional[int] = None) -> None:
        self.dir = Path(root) / config_key(config)
        self.dim = dim
        self.stats = CacheStats()
        self._maps = 0
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            info = self.dir / "config.json"
            if not info.exists():
                _atomic_write(info, json.dumps(dataclasses.asdict(config), indent=1).encode("utf-8"))
        except OSError as e:
            raise ConfigError(f"features.cache_dir: cannot use {self.dir}: {e.strerror} "
                              "(choose a writable folder or set features.cache_dir: null)") from None

    def path(self, utt: Utterance) -> Optional[Path]:
        key = entry_key(utt)
        return None if key is None else self.dir / f"{key}.npy"

    def get(self, utt: Utterance, extract: Callable[[Utterance], torch.Tensor]) -> torch.Tensor:
        """(T, F) float32 features of ``utt``: memory-mapped from the cache, else ``extract(utt)``
        (stored for next time)."""
        return self.get_many([utt], lambda utts: [extract(u) for u in utts])[0]

    def get_many(self, utts: Sequence[Utterance],
                 extract_many: Callable[[Sequence[Utterance]], list[torch.Tensor]]) -> list[torch.Tensor]:
        """``get`` for several utterances; the ones not cached are extracted together."""
        out: list[Optional[torch.Tensor]] = [None] * len(utts)
        todo: list[int] = []
        paths = [self.path(u) for u in utts]
        for i, path in enumerate(paths):
            if path is None:
                self.stats.uncached += 1
            elif not path.exists():
                self.stats.misses += 1
            elif (feats := self._read(path)) is not None:
                self.stats.hits += 1
                out[i] = feats
                continue
            else:
                self.stats.repaired += 1
            todo.append(i)
        for i, feats in zip(todo, extract_many([utts[i] for i in todo]) if todo else []):
            out[i] = feats
            if paths[i] is not None:
                self._write(paths[i], feats)
        return out  # type: ignore[return-value]  # every slot is filled above

    def _read(self, path: Path) -> Optional[torch.Tensor]:
        """The entry (a copy-on-write memory map for the first ``MAX_MAPS``), or None when it is corrupt."""
        try:
            array = np.load(path, mmap_mode="c" if self._maps < MAX_MAPS else None, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if (array.ndim != 2 or array.dtype != np.float32 or array.shape[0] == 0
                or (self.dim is not None and array.shape[1] != self.dim) or not np.isfinite(array).all()):
            return None
        self._maps += isinstance(array, np.memmap)
        return torch.from_numpy(array)

    def _write(self, path: Path, feats: torch.Tensor) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(feats.detach().cpu().numpy(), dtype=np.float32), allow_pickle=False)
        try:
            _atomic_write(path, buffer.getvalue())
        except OSError as e:
            raise ConfigError(f"features.cache_dir: cannot write {path}: {e.strerror}") from None


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
