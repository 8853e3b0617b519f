"""Corpus preparation recipes. Each recipe is a module ``corpora.<name>`` with a function

    prepare(data_dir: Path | None, out_dir: Path, **options) -> dict[str, Path]

that reads a corpus in its documented layout, validates it, writes JSONL manifests
(``train.jsonl``, ``dev.jsonl`` and, where the corpus has one, ``test.jsonl``) into
``out_dir`` and returns ``{split: manifest_path}``. Recipes are imported lazily.
"""
from __future__ import annotations

import ast
import collections.abc
import importlib
import importlib.util
import inspect
import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

from seqlabel.errors import ConfigError

RECIPES: dict[str, str] = {
    "fsdd": "Free Spoken Digit Dataset (8 kHz WAV, digits as characters)",
    "an4": "CMU AN4 census (16 kHz .wav/.sph/big-endian .raw under wav/, or Sphinx cepstra under feat/)",
    "timit": "TIMIT (LDC93S1): 462-speaker train, 50-speaker dev, 24-speaker core test; 61/48/39 phones",
    "librispeech": "LibriSpeech/<subset>/<spk>/<chapter>/*.flac + *.trans.txt, any subsets",
    "kaldi": "Kaldi data dirs (wav.scp, text, utt2spk, optional segments; or feats.scp with ark files)",
    "lhotse": "lhotse recordings + supervisions JSONL(.gz) manifests (lhotse itself not needed)",
    "dir": "a folder of audio files plus a TSV of id<TAB>transcript",
    "espeak": "synthetic phone-labelled speech made offline with eSpeak NG (the demo corpus)",
    "hershey": "synthetic online handwriting (pen strokes) from the Hershey script fonts, writer-disjoint splits",
    "iam_ondb": "IAM On-Line Handwriting Database (lineStrokes XML, ascii CSR transcripts, task split files)",
    "lines": "line images with .gt.txt transcripts (ocropus/kraken/Calamari), split by top-level folder",
    "iam": "IAM handwriting lines (lines/a01/a01-000u/a01-000u-00.png + ascii/lines.txt), writer-disjoint",
    "digits": "digit strings composed from scikit-learn's bundled 8x8 handwritten digits (writer-mixed)",
    "hershey_offline": "the hershey corpus's synthetic lines rendered as images at random pen widths (writer-disjoint)",
    "render": "plain text rendered with fonts as degraded manuscript-like line images (+ .gt.txt), seeded",
}


def load_recipe(name: str) -> ModuleType:
    if name not in RECIPES:
        raise ConfigError(f"unknown corpus {name!r}; known corpora: {', '.join(sorted(RECIPES))}")
    return importlib.import_module(f"seqlabel.corpora.{name}")


def run_recipe(name: str, data_dir: Path | None, out_dir: Path, options: dict[str, Any]) -> dict[str, Path]:
    """Run recipe ``name``, refusing options its ``prepare`` does not take."""
    recipe = load_recipe(name)
    params = inspect.signature(recipe.prepare).parameters
    valid = [p for p in params if p not in ("data_dir", "out_dir")]
    for key in options:
        if key not in valid:
            raise ConfigError(f"corpus {name!r} has no option {key!r}; its options: {', '.join(valid) or 'none'}")
    try:
        hints = typing.get_type_hints(recipe.prepare)
    except (NameError, TypeError):  # an annotation that does not evaluate: the recipe checks its values itself
        hints = {}
    for key, value in options.items():
        if key in hints and not _matches(value, hints[key]):
            default = _as_option(params[key].default)
            raise ConfigError(f"corpus {name!r}: option {key} must be {_describe(hints[key])}, got {value!r} "
                              f"({type(value).__name__})" + (f"; its default: {key}={default}" if default else ""))
    return recipe.prepare(data_dir, out_dir, **options)


_SIMPLE = {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
           type(None): "unset (null)", os.PathLike: "a path"}


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the annotation ``hint`` (simple types, unions, sequences; others: yes)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint in (int, float) and isinstance(value, bool):
        return False
    if hint is float:
        return isinstance(value, (int, float))
    if hint in _SIMPLE:
        return isinstance(value, hint)
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        inner = [a for a in args if a is not Ellipsis]
        return len(inner) != 1 or all(_matches(v, inner[0]) for v in value)
    return True


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_describe(a) for a in args))
    if origin in (list, tuple, collections.abc.Sequence):
        inner = [a for a in args if a is not Ellipsis]
        if len(set(inner)) == 1:
            count = f"{len(inner)} " if len(inner) > 1 else ""
            return f"a list of {count}{_describe(inner[0]).removeprefix('a ')}s"
        return "a list"
    return _SIMPLE.get(hint, getattr(hint, "__name__", str(hint)))


@dataclass(frozen=True)
class RecipeOption:
    """One ``-p key=value`` option of a recipe: its ``prepare`` keyword and default (None: unset)."""

    name: str
    default: Optional[str]  # as -p takes it (YAML): "speaker", "0.1", "[0.08, 0.25]"


@dataclass(frozen=True)
class RecipeHelp:
    name: str
    description: str  # RECIPES' line
    options: tuple[RecipeOption, ...]
    notes: str  # the docstring of ``prepare`` after its first line


def recipe_help(name: str) -> RecipeHelp:
    """What ``seqlabel prepare --help`` says of recipe ``name``, read from its source (``prepare``'s
    signature and docstring) without importing it, so that help stays fast."""
    if name not in RECIPES:
        load_recipe(name)  # raises, listing the known corpora
    spec = importlib.util.find_spec(f"seqlabel.corpora.{name}")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    func = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "prepare")
    params = [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]
    defaults = [None] * (len(func.args.posonlyargs) + len(func.args.args) - len(func.args.defaults))
    defaults += [*func.args.defaults, *func.args.kw_defaults]
    try:
        values = [None if d is None else ast.literal_eval(d) for d in defaults]
    except ValueError:  # a default the recipe computes (render's ranges come from its Look): import it
        signature = inspect.signature(load_recipe(name).prepare).parameters.values()
        values = [None if p.default is inspect.Parameter.empty else p.default for p in signature]
    options = tuple(RecipeOption(p.arg, _as_option(v)) for p, v in zip(params, values)
                    if p.arg not in ("data_dir", "out_dir"))
    doc = (ast.get_docstring(func) or "").replace("``", "`")
    notes = " ".join(doc.split("\n\n", 1)[1].split()) if "\n\n" in doc else ""
    return RecipeHelp(name, RECIPES[name], options, re.sub(r"\s*Returns `\{split: [^}]*\}`\.", "", notes))


def _as_option(value: Any) -> Optional[str]:
    """A default value as ``-p`` writes it (YAML), None for no default or a None default."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)

