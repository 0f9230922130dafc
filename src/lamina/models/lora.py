"""LoRA on whole models: `model.enable_lora(rank, targets=[...])`, `merge_lora`, and the
adapter-only files of `save_lora_weights` / `load_lora_weights` (see `layers/lora.py` for
what LoRA does to one layer)."""
from __future__ import annotations

import dataclasses
import fnmatch
import math

from lamina.core import tree
from lamina.errors import ConfigurationError, UsageError
from lamina.layers.lora import LoRA, check_rank


def _count(variables):
    return sum(math.prod(v.shape) for v in variables)


@dataclasses.dataclass
class LoraReport:
    """What `Model.enable_lora` did: one row per layer (use path, class, parameters of the
    base weight, parameters added), and the model's parameter counts before and after."""

    rank: int
    rows: list[tuple[str, str, int, int]]
    trainable_before: int
    trainable_after: int
    total_before: int
    total_after: int

    def __str__(self):
        lines = [f"LoRA rank {self.rank} enabled on {len(self.rows)} layer(s):"]
        width = max(len(path) for path, *_ in self.rows)
        for path, cls, base, added in self.rows:
            lines.append(f"  {path:<{width}}  {cls:<12} base {base:>10,}  adapters {added:>8,}")
        lines.append(f"trainable params: {self.trainable_before:,} -> {self.trainable_after:,}; "
                     f"total params: {self.total_before:,} -> {self.total_after:,}")
        return "\n".join(lines)

    __repr__ = __str__


def lora_layers(model):
    """(use path, layer) for every layer under `model` that supports LoRA, each layer once."""
    seen, out = set(), []
    for path, layer in tree.layer_paths(model).items():
        if isinstance(layer, LoRA) and id(layer) not in seen:
            seen.add(id(layer))
            out.append((path, layer))
    return out


def _select(model, targets):
    candidates = lora_layers(model)
    if targets is None:
        return candidates
    patterns = [targets] if isinstance(targets, str) else list(targets)
    chosen, ids = [], set()
    for pattern in patterns:
        matched = [(path, layer) for path, layer in candidates
                   if fnmatch.fnmatchcase(layer.name, pattern)
                   or fnmatch.fnmatchcase(path, pattern)]
        if not matched:
            names = ", ".join(path for path, _ in candidates) or "none"
            raise ConfigurationError(
                f"Model '{model.name}': LoRA target {pattern!r} matches no layer that supports "
                f"LoRA (by name or use path); the layers that do are: {names}.")
        for path, layer in matched:
            if id(layer) not in ids:
                ids.add(id(layer))
                chosen.append((path, layer))
    return chosen


class LoRAMethods:
    """The LoRA methods of `Model`."""

    def enable_lora(self, rank, targets=None, lora_alpha=None, a_initializer="he_uniform",
                    b_initializer="zeros"):
        """Enable LoRA of `rank` on the layers matched by `targets` (glob patterns on layer
        names or use paths, e.g. `["*query*", "*value*"]`; default: every Dense, EinsumDense,
        Embedding, convolution and attention projection in the model, nested models
        included). Returns a `LoraReport` (its repr is a table of what was enabled, with
        parameter counts before and after). Nothing changes when a target is invalid."""
        check_rank(self, rank)
        chosen = _select(self, targets)
        for path, layer in chosen:
            if layer.lora_enabled:
                raise UsageError(
                    f"Model '{self.name}': LoRA is already enabled on '{path}' (rank "
                    f"{layer.lora_rank}); merge_lora() first, or leave it out of `targets`.")
            if not layer.built:
                raise UsageError(
                    f"Model '{self.name}': layer '{path}' is not built yet; build the model "
                    "(call it on data) before enable_lora.")
        before = (_count(self.trainable_weights), _count(self.weights))
        rows = []
        for path, layer in chosen:
            base = getattr(layer, layer._lora_base)
            layer.enable_lora(rank, lora_alpha, a_initializer, b_initializer)
            added = _count(layer._lora[:2])
            kind = type(layer).__name__.lstrip("_")
            rows.append((path, kind, math.prod(base.shape), added))
        return LoraReport(rank, rows, *before[:1], _count(self.trainable_weights),
                          before[1], _count(self.weights))

    def merge_lora(self):
        """Fold every layer's adapters into its base weight (for serving); returns the use
        paths of the merged layers. Outputs are unchanged (to float rounding)."""
        merged = [path for path, layer in lora_layers(self) if layer.lora_enabled]
        if not merged:
            raise UsageError(f"Model '{self.name}': merge_lora found no layer with LoRA "
                             "enabled.")
        for _, layer in lora_layers(self):
            if layer.lora_enabled:
                layer.merge_lora()
        return merged

    def save_lora_weights(self, filepath):
        """Write only the LoRA adapters (and a fingerprint of the base weights they were
        trained on) to `filepath`, in lamina's safe archive format."""
        from lamina.saving import lora as lora_files
        lora_files.save(self, filepath)

    def load_lora_weights(self, filepath, check_base=True):
        """Load adapters written by `save_lora_weights`, enabling LoRA where it is not yet.
        The base weights must have the shapes, and (with `check_base`) the exact values,
        that the adapters were saved with; otherwise nothing is changed and a
        `lamina.SavingError` says which layer differs."""
        from lamina.saving import lora as lora_files
        lora_files.load(self, filepath, check_base)
