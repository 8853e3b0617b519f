"""`seqlabel prepare --help` lists every recipe of the registry with each of its -p options and its
default, as the recipe's own prepare() signature has them (read from source, checked against import)."""
from __future__ import annotations

import inspect

import pytest
from helpers import invoke, ok

from seqlabel.corpora import RECIPES, load_recipe, recipe_help


@pytest.mark.parametrize("name", list(RECIPES))
def test_help_options_are_the_signature(name: str) -> None:
    params = inspect.signature(load_recipe(name).prepare).parameters
    expected = {key: (None if p.default in (None, inspect.Parameter.empty) else p.default)
                for key, p in params.items() if key not in ("data_dir", "out_dir")}
    got = {o.name: o.default for o in recipe_help(name).options}
    assert list(got) == list(expected)
    for key, default in expected.items():
        if isinstance(default, bool):
            assert got[key] == str(default).lower()
        elif isinstance(default, (tuple, list)):
            assert got[key] == "[" + ", ".join(map(str, default)) + "]"
        else:
            assert got[key] == (None if default is None else str(default)), key


def test_prepare_help_lists_every_recipe_and_option() -> None:
    output = ok(invoke("prepare", "--help")).output
    for name in RECIPES:
        recipe = recipe_help(name)
        assert f"{name}: " in output, name
        for option in recipe.options:
            shown = f"-p {option.name}={option.default}" if option.default is not None else f"-p {option.name} (unset)"
            assert shown in output, (name, shown)
    assert "-p split=speaker" in output and "-p phones=61" in output and "-p pen_width=[0.08, 0.25]" in output
