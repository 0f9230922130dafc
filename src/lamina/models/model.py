"""Model: a Layer that can be trained. Functional when given `inputs`/`outputs`, else subclassed.

`Model(inputs, outputs)` stores a `Graph` and runs it in `call`; a subclass overrides `call`.
This `__init__` is the one place where the functional path is chosen (no `__new__` tricks).
Training methods are thin delegations to `lamina.training`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from lamina import trainability
from lamina.core import holders, registry, trainability_version, tree
from lamina.core import node as node_lib
from lamina.core import scope as scope_lib
from lamina.core.input_layer import InputLayer
from lamina.core.layer import Layer
from lamina.errors import AbstractMethodError, ConfigurationError, UsageError
from lamina.models import host_inputs
from lamina.models.functional import Graph
from lamina.models.graph_config import graph_config, graph_from_config
from lamina.models.lora import LoRAMethods
from lamina.models.training_api import TrainingAPI

if TYPE_CHECKING:
    import os

    from numpy.typing import DTypeLike

    from lamina.core.dtype_policy import DTypePolicy
    from lamina.utils.explain import TrainabilityReport



@registry.register_serializable()
class Model(TrainingAPI, LoRAMethods, Layer):
    """A trainable container of layers.

    Args:
        inputs, outputs: symbolic tensors (single, list or dict) for a functional model.
        name, trainable, dtype: as for `Layer`. `trainable=False` is a gate over this
            model's scope: sublayers keep their own flags (docs/design.md rule 1).
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None,
                 trainable: bool = True, dtype: DTypeLike | DTypePolicy | None = None) -> None:
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        holders.register(self)
        self._graph = None
        self._trainer = None
        self.history = None
        self.stop_training = False
        self._predict_steps = {}  # structure key -> jitted inference function
        self._predict_resolution = None
        if (inputs is None) != (outputs is None):
            raise ConfigurationError(
                f"Model '{self.name}': a functional model needs both `inputs` and `outputs`; "
                f"received inputs={inputs!r}, outputs={outputs!r}."
            )
        if inputs is not None:
            self._graph = Graph(inputs, outputs, self.name)
            self.built = True

    autocast_inputs = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and not node_lib.any_symbolic(args[0]):
            args = (self.host_inputs(args[0]), *args[1:])
        return super().__call__(*args, **kwargs)

    def host_inputs(self, x: Any) -> Any:
        """`x` with the model's host prefix applied (docs/preprocessing.md): for a model
        whose first layers run on the host (TextVectorization, StringLookup, ...), the dict
        of numeric arrays its compiled steps take; any other model's `x` as given. fit,
        evaluate, predict and the batch methods call it on each batch read from the host."""
        if self._graph is None or not self._graph.host_nodes:
            return x
        return host_inputs.prepare(self._graph, x)

    _NOT_SUBLAYERS = Layer._NOT_SUBLAYERS | {"_graph", "_trainer", "_predict_steps",
                                             "_predict_resolution"}

    @property
    def supports_masking(self):
        return self._graph is not None

    def compute_mask(self, inputs, previous_mask):
        scope = scope_lib.current()
        return scope.output_masks.get(id(self)) if scope is not None else None

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if self._graph is None:
            raise AbstractMethodError(
                f"Model '{self.name}' has no graph and its class {type(self).__name__} does "
                "not override `call`. Build it as `Model(inputs, outputs)` or subclass it and "
                "define `call(self, inputs, training=None)`."
            )
        scope = scope_lib.current()
        if scope is None:
            raise UsageError(
                f"Model '{self.name}'.call: expected to run inside a call of the model, "
                f"received a direct call; call `{self.name}(inputs)` instead.")
        outputs, output_masks = self._graph.run(inputs, mask)
        scope.output_masks[id(self)] = output_masks
        return outputs

    def _explicit_sublayers(self):
        if self._graph is None:
            return None
        return [layer for layer in self._graph.layers if layer not in self._input_layers]

    @property
    def _input_layers(self):
        return [t.node.layer for t in self._graph.flat_inputs] if self._graph else []

    # -- structure -------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """Keras order: a functional model lists its InputLayers first."""
        if self._graph is not None:
            return list(self._graph.layers)
        return tree.sublayers(self)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ConfigurationError(
            f"Model '{self.name}': no layer named {name!r}. Layers: "
            f"{[layer.name for layer in self.layers]}."
        )

    @property
    def input(self):
        """The symbolic input(s) (Keras: a single tensor for a single-input model)."""
        inputs = self._require_graph("input").inputs
        return inputs[0] if isinstance(inputs, (list, tuple)) and len(inputs) == 1 else inputs

    @property
    def output(self):
        """The symbolic output(s) (a single tensor for a single-output model)."""
        outputs = self._require_graph("output").outputs
        return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs

    def _require_graph(self, what: str) -> Graph:
        if self._graph is None:
            raise ConfigurationError(
                f"Model '{self.name}' has no {what}: only functional models, and Sequential "
                "models whose input shape is known, have symbolic inputs and outputs."
            )
        return self._graph

    @property
    def inputs(self):
        return self._graph.flat_inputs if self._graph else None

    @property
    def outputs(self):
        return self._graph.flat_outputs if self._graph else None

    @property
    def input_names(self):
        return self._graph.input_names if self._graph else []

    @property
    def output_names(self):
        return self._graph.output_names if self._graph else []

    # -- scoped freezing (docs/design.md rule 2) ---------------------------------------------
    def _resolve_layer(self, layer: Any, verb: str) -> Layer:
        if isinstance(layer, str):
            matches = [candidate for candidate in tree.all_layers(self)[1:]
                       if candidate.name == layer]
            if not matches:
                raise ConfigurationError(
                    f"Model '{self.name}'.{verb}: no layer named {layer!r} inside this model. "
                    f"Layers: {[c.name for c in tree.all_layers(self)[1:]]}."
                )
            return matches[0]
        if not any(candidate is layer for candidate in tree.all_layers(self)[1:]):
            name = getattr(layer, "name", repr(layer))
            raise ConfigurationError(
                f"Model '{self.name}'.{verb}: expected a layer inside this model, received "
                f"'{name}', which '{self.name}' does not contain. A model can only freeze "
                "layers in its own scope."
            )
        return layer

    def freeze(self, *layers: Layer | str) -> None:
        """Freeze `layers` inside this model's scope only; their flags are not touched.

        The layers become constants on every use path through this model (no updates, no
        gradient into them), while other models that hold them still train them.
        """
        for layer in layers:
            layer = self._resolve_layer(layer, "freeze")
            if not any(layer is f for f in self._scoped_freezes):
                self._scoped_freezes.append(layer)
        trainability_version.bump()

    def unfreeze(self, *layers: Layer | str) -> None:
        """Undo `freeze` for `layers` (all scoped freezes when called with no argument)."""
        if not layers:
            self._scoped_freezes.clear()
        for layer in layers:
            layer = self._resolve_layer(layer, "unfreeze")
            self._scoped_freezes[:] = [f for f in self._scoped_freezes if f is not layer]
        trainability_version.bump()

    def freeze_up_to(self, layer: Layer | str | int, inclusive: bool = True) -> list[Layer]:
        """Freeze, in this model's scope, its layers up to `layer` (a layer, name or index of
        `self.layers`; included unless `inclusive=False`) and lift this model's scoped freezes
        of the layers after it, so calling it again moves the boundary (fastai's `freeze_to`).

        Only scoped freezes change: no flag is written, so a layer the user set
        `trainable = False` stays frozen, and other models that hold these layers still train
        them. Returns the layers now frozen in this scope.
        """
        layers = [candidate for candidate in self.layers
                  if not isinstance(candidate, InputLayer)]
        if isinstance(layer, int) and not isinstance(layer, bool):
            if not -len(layers) <= layer < len(layers):
                raise ConfigurationError(
                    f"Model '{self.name}'.freeze_up_to: index {layer} is out of "
                    f"range for its {len(layers)} layers.")
            index = layer % len(layers)
        else:
            target = self._resolve_layer(layer, "freeze_up_to")
            positions = [i for i, candidate in enumerate(layers) if candidate is target]
            if not positions:
                raise ConfigurationError(
                    f"Model '{self.name}'.freeze_up_to: '{target.name}' is nested inside "
                    f"another layer; expected one of this model's own layers "
                    f"{[c.name for c in layers]}.")
            index = positions[0]
        stop = index + 1 if inclusive else index
        after = layers[stop:]
        self._scoped_freezes[:] = [f for f in self._scoped_freezes
                                   if not any(f is a for a in after)]
        self.freeze(*layers[:stop])  # bumps the trainability version even when empty
        return layers[:stop]

    @property
    def frozen_layers(self) -> list[Layer]:
        """The layers this model has frozen in its own scope."""
        return list(self._scoped_freezes)

    def explain(self) -> TrainabilityReport:
        """Per variable: is it trained when this model trains, and if not, why not."""
        from lamina.utils.explain import explain

        return explain(self)

    def trainability(self) -> trainability.Resolution:
        """The resolution every consumer reads (see `lamina.trainability`)."""
        return trainability.resolve(self)

    def summary(self, print_fn: Callable[[str], Any] | None = None,
                line_length: int | None = None) -> None:
        from lamina.utils.summary import summary

        return summary(self, print_fn=print_fn, line_length=line_length)

    # -- saving ----------------------------------------------------------------------
    def save(self, filepath: str | os.PathLike[str]) -> None:
        """Save everything needed to rebuild this model (see `lamina.models.load_model`)."""
        from lamina.saving import model_io

        model_io.save_model(self, filepath)

    def save_weights(self, filepath: str | os.PathLike[str]) -> None:
        from lamina.saving import model_io

        model_io.save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike[str],
                     skip_mismatch: bool = False) -> dict[str, list[str]]:
        """Set the weights from a `save_weights` file; returns the mismatch report (paths
        "missing", "unexpected" and "mismatched", each empty unless `skip_mismatch`)."""
        from lamina.saving import model_io

        return model_io.load_weights(self, filepath, skip_mismatch)

    def get_config(self) -> dict[str, Any]:
        """Keras-shaped config. Functional models include their graph and scoped freezes."""
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self._graph is not None:
            config.update(graph_config(self._graph))
            path_of = {id(layer): path for path, layer in tree.labelled_layers(self)}
            config["frozen_layers"] = [path_of[id(layer)] for layer in self._scoped_freezes]
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        if "nodes" not in config:
            return cls(**config)
        inputs, outputs, _ = graph_from_config(config)
        model = cls(inputs, outputs, name=config["name"], trainable=config["trainable"])
        by_path = dict(tree.labelled_layers(model))
        missing = [p for p in config.get("frozen_layers", []) if p not in by_path]
        if missing:
            raise ConfigurationError(
                f"Model '{model.name}' config freezes layers {missing}, which it does not contain."
            )
        model.freeze(*[by_path[p] for p in config.get("frozen_layers", [])])
        return model
