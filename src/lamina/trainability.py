"""Trainability resolution: which variables a training step of a root model updates, and why.

This is the one place where docs/design.md section 2 is computed. Everything that needs to know
what trains (weight lists, `summary`, `explain`, the optimizer, the compiled step and the
runtime stop-gradient scopes) reads `resolve(root)` or the path functions below; no object
caches an "effective" flag.

Terms: a *use path* is the chain root -> container -> ... -> layer through which the root
calls a layer (the containers' direct sublayers define the chain).

Every rule of docs/design.md section 2, what the code does for it and where (after `->`, names
relative to `lamina`; `tests/test_trainability_rules.py` imports each one, so the table
cannot go stale):

| rule | what the code does, where                                                             |
|------|---------------------------------------------------------------------------------------|
| 1    | each object has its own flag; setting it changes that object only (everything         |
|      | below reads flags and never writes them)                                              |
|      | -> `core.layer.Layer.trainable`                                                       |
|      | -> `core.variables.Variable.trainable`                                                |
| 2    | `container.freeze(layer)` records a scoped freeze and touches no flag                 |
|      | -> `models.model.Model.freeze`                                                        |
|      | -> `models.model.Model.unfreeze`                                                      |
| 3    | a path is open iff every object on it is trainable and no container on it froze       |
|      | a later element; a variable trains iff its own flag is True and one path to its       |
|      | layer is open                                                                         |
|      | -> `trainability.root_path`                                                           |
|      | -> `trainability.enter`                                                               |
|      | -> `trainability.resolve`                                                             |
|      | -> `trainability.Resolution.is_trained`                                               |
| 4    | reads inside a closed path are `stop_gradient`ed; an RNN reads its cell's             |
|      | weights on the cell's own path                                                        |
|      | -> `core.scope.CallScope.read`                                                        |
|      | -> `core.scope.as_part_of`                                                            |
| 5    | a flag or freeze change bumps a version, so the next step resolves again;             |
|      | compiled steps are cached on `Resolution.key`                                         |
|      | -> `core.trainability_version.bump`                                                   |
|      | -> `trainability.Resolution.key`                                                      |
|      | -> `training.trainer.Trainer._current_plan`                                           |
| 6    | gradients and optax updates cover the trained variables only (frozen ones are         |
|      | plain inputs); the optimizer state of frozen ones is kept aside and merged back       |
|      | -> `training.step.train_step_fn`                                                      |
|      | -> `training.opt_state.restrict`                                                      |
|      | -> `training.opt_state.merge`                                                         |
| 7    | BatchNormalization uses batch statistics only on an open path, unless its             |
|      | `train_when_frozen` or an explicit `training=` says otherwise                         |
|      | -> `layers.normalization.BatchNormalization._use_batch_statistics`                    |
| 8    | weight lists, `summary`, the optimizer state and the step all read `resolve`;         |
|      | an empty resolution is an error naming every flag that closed a path                  |
|      | -> `core.layer.Layer.trainable_weights`                                               |
|      | -> `core.layer.Layer.non_trainable_weights`                                           |
|      | -> `utils.summary.summary`                                                            |
|      | -> `training.trainer.Trainer._ensure_opt_state`                                       |
|      | -> `training.trainer.nothing_trainable_error`                                         |
| 9    | `explain` turns the recorded reasons into a report, per variable and per layer        |
|      | -> `utils.explain.explain`                                                            |
|      | -> `utils.explain.explain_layer`                                                      |
| 10   | flags and scoped freezes are written to the saved config and restored from it         |
|      | -> `saving.model_io.trainability_config`                                              |
|      | -> `saving.model_io.apply_trainability`                                               |
"""
from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

from lamina.core import tree
from lamina.errors import LayerCycleError

if TYPE_CHECKING:
    from lamina.core.layer import Layer
    from lamina.core.variables import Variable


@dataclasses.dataclass(frozen=True)
class PathState:
    """The state of one use path, from the root to the last layer entered."""

    layers: tuple[Layer, ...]  # the objects on the path, root first
    open: bool
    reasons: tuple[str, ...]  # why the path is closed (empty when open)
    frozen_by: dict[int, Layer]  # id(layer) -> container that froze it, for containers on the path

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(id(layer) for layer in self.layers)

    @property
    def names(self) -> str:
        return " > ".join(layer.name for layer in self.layers)


def _flag_reason(obj: Layer) -> str:
    return f"'{obj.name}.trainable' is False"


def root_path(root: Layer) -> PathState:
    """The path that holds only the root."""
    reasons = () if root.trainable else (_flag_reason(root),)
    frozen_by = {id(layer): root for layer in root._scoped_freezes}
    return PathState((root,), root.trainable, reasons, frozen_by)


def enter(parent: PathState, layer: Layer) -> PathState:
    """The path `parent` extended by `layer` (rule 3)."""
    reasons = list(parent.reasons)
    if not layer.trainable:
        reasons.append(_flag_reason(layer))
    freezer = parent.frozen_by.get(id(layer))
    if freezer is not None:
        reasons.append(
            f"'{freezer.name}' froze '{layer.name}' in its scope ({freezer.name}.freeze)")
    frozen_by = parent.frozen_by
    if layer._scoped_freezes:
        frozen_by = dict(frozen_by)
        for frozen in layer._scoped_freezes:
            frozen_by.setdefault(id(frozen), layer)
    return PathState(parent.layers + (layer,), not reasons, tuple(reasons), frozen_by)


@dataclasses.dataclass(frozen=True)
class Resolution:
    """The trainable / frozen partition of one root model's variables."""

    root: Layer
    variables: tuple[Variable, ...]  # every variable reachable from the root, in `weights` order
    paths: dict[int, tuple[PathState, ...]]  # variable uid -> the paths reaching its layer
    layer_paths: dict[int, tuple[PathState, ...]]  # id(layer) -> the paths reaching it

    @functools.cached_property
    def trained(self) -> tuple[Variable, ...]:
        """Variables a training step of the root updates (rule 3)."""
        return tuple(v for v in self.variables if self.is_trained(v))

    @functools.cached_property
    def not_trained(self) -> tuple[Variable, ...]:
        return tuple(v for v in self.variables if not self.is_trained(v))

    def is_trained(self, variable: Variable) -> bool:
        return variable.trainable and any(p.open for p in self.paths[variable.uid])

    def layer_is_trained(self, layer: Layer) -> bool:
        """True when some use path to `layer` is open (its trainable variables train)."""
        return any(p.open for p in self.layer_paths.get(id(layer), ()))

    def reasons(self, variable: Variable) -> tuple[str, ...]:
        """Why `variable` is not trained (empty when it is)."""
        if self.is_trained(variable):
            return ()
        if not variable.trainable:
            return (getattr(variable, "frozen_reason", None)
                    or f"variable '{variable.path}' is not trainable (its own flag)",)
        return tuple(f"path {p.names}: " + "; ".join(p.reasons) for p in self.paths[variable.uid])

    @functools.cached_property
    def structure_key(self) -> tuple[Any, ...]:
        """Hashable identity of the model's structure: its use paths and variables."""
        paths = tuple(p.ids for ps in self.layer_paths.values() for p in ps)
        return (paths, tuple(v.uid for v in self.variables))

    @functools.cached_property
    def key(self) -> tuple[Any, ...]:
        """Hashable identity of this configuration: structure, what trains, which paths close."""
        closed = frozenset(p.ids for ps in self.layer_paths.values() for p in ps if not p.open)
        return (self.structure_key, tuple(v.uid for v in self.trained), closed)


def resolve(root: Layer) -> Resolution:
    """Walk every use path from `root` and record the state of each (pure: reads flags only)."""
    variables: list[Variable] = []
    paths: dict[int, list[PathState]] = {}
    layer_paths: dict[int, list[PathState]] = {}

    def walk(layer: Layer, state: PathState) -> None:
        layer_paths.setdefault(id(layer), []).append(state)
        for variable in tree.own_variables(layer):
            if variable.uid not in paths:
                variables.append(variable)
                paths[variable.uid] = []
            paths[variable.uid].append(state)
        for child in tree.sublayers(layer):
            if id(child) in state.ids:
                raise LayerCycleError(f"Layer '{child.name}' contains itself via {state.names}.")
            walk(child, enter(state, child))

    walk(root, root_path(root))
    return Resolution(
        root,
        tuple(variables),
        {uid: tuple(ps) for uid, ps in paths.items()},
        {key: tuple(ps) for key, ps in layer_paths.items()},
    )
