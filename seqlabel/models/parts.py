"""Named parts of a ``BiLSTMCTC``, to hold some fixed while the rest trains (fine-tuning):

    frontend      every conv block of the CNN front end      frontend.N   conv block N (from 0)
    lstm          every BiLSTM layer                         lstm.N       layer N, both directions
    output        the output layer (linear to the C classes)

A frozen part's weights get no gradient (``requires_grad`` off, so optimizers and weight noise leave
them as they are), and its modules that keep statistics (batch norm) stay in evaluation mode even
when the model trains, so nothing of it changes. Dropout inside a frozen module is off with it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from torch import nn

if TYPE_CHECKING:
    from seqlabel.models.bilstm import BiLSTMCTC


def part_names(model: "BiLSTMCTC") -> list[str]:
    """The parts ``model`` has, in order."""
    front = ["frontend"] + [f"frontend.{k}" for k in range(len(model.cnn.blocks))] if model.cnn is not None else []
    return [*front, "lstm", *(f"lstm.{k}" for k in range(model.lstm.num_layers)), "output"]


def part_parameters(model: "BiLSTMCTC", name: str) -> list[nn.Parameter]:
    """The weights of part ``name``; KeyError for a part the model does not have."""
    if name not in part_names(model):
        raise KeyError(name)
    if name.startswith("lstm."):
        layer = name.split(".")[1]
        return [p for n, p in model.lstm.named_parameters() if n.split("_l")[-1].removesuffix("_reverse") == layer]
    return list(_modules(model, name)[0].parameters())


def _modules(model: "BiLSTMCTC", name: str) -> list[nn.Module]:
    """The modules part ``name`` holds whole (none for one layer of the LSTM stack: it shares the nn.LSTM)."""
    if name == "frontend":
        return [model.cnn]
    if name.startswith("frontend."):
        return [model.cnn.blocks[int(name.split(".")[1])]]
    return {"lstm": [model.lstm], "output": [model.output]}.get(name, [])


def freeze(model: "BiLSTMCTC", names: Sequence[str]) -> None:
    """Hold the parts ``names`` fixed and let every other part train (``names`` empty: all train).
    KeyError names the first part the model does not have."""
    for name in names:
        part_parameters(model, name)  # every name checked before anything changes
    for p in model.parameters():
        p.requires_grad_(True)
    for name in names:
        for p in part_parameters(model, name):
            p.requires_grad_(False)
    model.frozen = tuple(names)
    model.frozen_modules = tuple(m for name in names for m in _modules(model, name))
    model.train(model.training)  # frozen modules with statistics switch to evaluation mode now
