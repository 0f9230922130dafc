"""`explain(model)`: for each variable, is it trained when `model` trains, and why not.
`explain_layer(layer)`: the model-independent view, which of the models that contain a layer
would train it.

Built on `lamina.trainability.resolve`, the same resolution the training step uses.

BatchNormalization's moving statistics are not trained by gradients (their own flag is
False) but they are not frozen either: the forward pass of a training step updates them
whenever the layer runs in training mode (docs/design.md rule 7). The report says so
(`updated_by == "forward pass"`) and calls them frozen only when every path puts the layer
in inference mode: a closed path, or a functional model's graph calling it (or a model
around it) with `training=False`, as `base(x, training=False)` in transfer learning.
"""
import dataclasses
import itertools

import numpy as np

from lamina import trainability
from lamina.core import holders as holders_lib
from lamina.core import tree
from lamina.errors import LayerNotFoundError


@dataclasses.dataclass(frozen=True)
class VariableReport:
    variable: object
    path: str  # use path of the layer that owns the variable (first one found)
    trained: bool
    reasons: tuple  # empty when trained; one entry per closed use path otherwise
    shared_with: tuple = ()  # names of the other live models that hold the owning layer
    updated_by: str = ""  # "gradients", "forward pass" or "" (left as it is: frozen)

    @property
    def name(self):
        return self.variable.path

    @property
    def layer(self):
        return self.variable.owner

    def as_dict(self):
        return {"variable": self.name, "layer_path": self.path, "trained": self.trained,
                "reasons": list(self.reasons), "shared_with": list(self.shared_with),
                "updated_by": self.updated_by,
                "shape": list(self.variable.shape)}


class TrainabilityReport:
    """Rows of `VariableReport`, in `model.weights` order, grouped by layer path in `str()`.

    Nested models are expanded (each row's `path` runs from the root to the owning layer);
    a layer that other live models also hold is marked with their names.
    """

    def __init__(self, model):
        resolution = trainability.resolve(model)
        self.model = model
        shared = {}
        for v in resolution.variables:
            owner = v.owner
            if owner is not None and id(owner) not in shared:
                shared[id(owner)] = tuple(
                    m.name for m in holders_lib.holders(owner, exclude=model)
                    if not _contains(model, m))
        self.rows = [_row(resolution, v, shared.get(id(v.owner), ()))
                     for v in resolution.variables if v.kind == "weight"]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def why(self, variable):
        """The report row of `variable` (a Variable or its path "layer/name")."""
        for row in self.rows:
            if row.variable is variable or row.name == variable:
                return row
        raise LayerNotFoundError(
            f"Model '{self.model.name}' has no weight {getattr(variable, 'path', variable)!r}; "
            f"weights: {[row.name for row in self.rows]}."
        )

    def as_dict(self):
        """The report as plain data (JSON-ready) for tools and tests."""
        trained = [r for r in self.rows if r.trained]
        return {"model": self.model.name, "variables": [r.as_dict() for r in self.rows],
                "trained_params": _params(trained),
                "forward_pass_params": _params([r for r in self.rows
                                                if r.updated_by == "forward pass"]),
                "frozen_params": _params([r for r in self.rows if not r.updated_by])}

    def __str__(self):
        lines = [f"Trainability of '{self.model.name}' (what a training step of it updates):"]
        current = None
        for row in self.rows:
            if row.path != current:
                current = row.path
                mark = f"  [shared with: {', '.join(row.shared_with)}]" if row.shared_with else ""
                lines.append(f"  {current}{mark}")
            size = int(np.prod(row.variable.shape))
            status = _STATUS[row.updated_by]
            lines.append(f"    {row.variable.name:<36} {size:>10,}  {status}")
            lines.extend(f"        because {reason}" for reason in row.reasons)
        data = self.as_dict()
        forward = (f"updated by the forward pass: {data['forward_pass_params']:,} params; "
                   if data["forward_pass_params"] else "")
        lines.append(f"  trained: {data['trained_params']:,} params; {forward}"
                     f"frozen: {data['frozen_params']:,} params")
        return "\n".join(lines)

    __repr__ = __str__


_STATUS = {"gradients": "trained", "forward pass": "updated by the forward pass", "": "frozen"}
# the variables a layer's forward pass assigns while training (BatchNormalization's)
_FORWARD_UPDATED = ("moving_mean", "moving_variance")


def _row(resolution, variable, shared_with):
    """The report row of `variable`: what updates it when the root trains, and why."""
    path = resolution.paths[variable.uid][0].names
    if resolution.is_trained(variable):
        return VariableReport(variable, path, True, (), shared_with, "gradients")
    owner = variable.owner
    if not any(getattr(owner, name, None) is variable for name in _FORWARD_UPDATED):
        return VariableReport(variable, path, False, resolution.reasons(variable),
                              shared_with)
    what = f"'{variable.path}' is a moving statistic of '{owner.name}'"
    paths = resolution.paths[variable.uid]
    modes = [_explicit_training(p) for p in paths]
    train_when_frozen = getattr(owner, "train_when_frozen", False)
    if any(mode is not False and (p.open or train_when_frozen or own)
           for p, (mode, _, own) in zip(paths, modes, strict=True)):
        return VariableReport(variable, path, False, (
            f"{what}: the forward pass of a training step updates it (the layer in "
            "training mode), gradients never do",), shared_with, "forward pass")
    kept = tuple(
        f"{what}: path {p.names} {where} with training=False, so the layer runs in "
        "inference mode and keeps it as it is" if mode is False else
        f"{what}: path {p.names} is closed ({'; '.join(p.reasons)}), so the layer runs in "
        "inference mode and keeps it as it is (rule 7)"
        for p, (mode, where, _) in zip(paths, modes, strict=True))
    return VariableReport(variable, path, False, kept, shared_with)


def _explicit_training(path):
    """(training, where, own) on `path`, as the forward pass sees them: the `training=` that
    a functional model's graph passes explicitly (every call of the next layer on the path
    passing the same value; the deepest such call wins), or None when inherited from the
    step; `where` names that call; `own` is True when the last layer itself is called with
    `training=True` (BatchNormalization then runs in training mode even on a closed path)."""
    mode, where, own = None, "", False
    for parent, child in itertools.pairwise(path.layers):
        graph = getattr(parent, "_graph", None)
        values = {node.call_kwargs.get("training") for node in getattr(graph, "nodes", ())
                  if node.layer is child}
        own = False
        if len(values) == 1 and None not in values:
            mode = values.pop()
            where, own = f"calls '{child.name}' in '{parent.name}'", mode is True
    return mode, where, own


def _params(rows):
    return int(sum(np.prod(r.variable.shape, dtype=np.int64) for r in rows))


def _contains(outer, model):
    """True when `model` is nested inside `outer` (then it is part of the report, not an
    'other' holder)."""
    return any(layer is model for layer in tree.all_layers(outer))


@dataclasses.dataclass(frozen=True)
class ModelVerdict:
    model: object
    trained: tuple  # the layer's weights that train when `model` trains
    frozen: tuple  # the others
    reasons: dict  # weight path -> reasons it is not trained in `model`

    @property
    def trains_layer(self):
        return bool(self.trained)


class LayerReport:
    """For one layer: for each model that contains it, which of its weights train when that
    model trains, and why the others do not."""

    def __init__(self, layer, models=None):
        self.layer = layer
        models = holders_lib.holders(layer) if models is None else list(models)
        own = [v for v in layer._variables if v.kind == "weight"]
        self.verdicts = []
        for model in models:
            resolution = trainability.resolve(model)
            if own and own[0].uid not in resolution.paths:
                raise LayerNotFoundError(
                    f"Model '{model.name}' does not contain layer '{layer.name}'.")
            trained = tuple(v for v in own if resolution.is_trained(v))
            frozen = tuple(v for v in own if not resolution.is_trained(v))
            self.verdicts.append(ModelVerdict(model, trained, frozen,
                                              {v.path: resolution.reasons(v) for v in frozen}))

    def __iter__(self):
        return iter(self.verdicts)

    def verdict(self, model):
        for v in self.verdicts:
            if v.model is model or v.model.name == model:
                return v
        raise LayerNotFoundError(
            f"Layer '{self.layer.name}' is not in model "
            f"{getattr(model, 'name', model)!r}; it is in "
            f"{[v.model.name for v in self.verdicts]}.")

    def __str__(self):
        lines = [f"Layer '{self.layer.name}' (trainable={self.layer.trainable}) is held by "
                 f"{len(self.verdicts)} model(s):"]
        for v in self.verdicts:
            if not v.frozen:
                lines.append(f"  {v.model.name}: trains it")
                continue
            state = "trains part of it" if v.trained else "does not train it"
            lines.append(f"  {v.model.name}: {state}")
            for path, reasons in v.reasons.items():
                lines.extend(f"      {path}: {reason}" for reason in reasons)
        return "\n".join(lines)

    __repr__ = __str__


def explain(model):
    """A `TrainabilityReport` for `model` (see docs/design.md rule 9)."""
    return TrainabilityReport(model)


def explain_layer(layer, models=None):
    """A `LayerReport`: which of `models` (default: every live model that contains `layer`)
    would train `layer`, and why not."""
    return LayerReport(layer, models)
