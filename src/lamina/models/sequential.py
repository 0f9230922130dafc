"""Sequential: a thin builder of a functional graph from a list of layers."""
import numpy as np

from lamina.core import node as node_lib
from lamina.core import registry, trainability_version
from lamina.core.input_layer import Input, InputLayer
from lamina.errors import ConfigurationError
from lamina.models.functional import Graph
from lamina.models.model import Model


@registry.register_serializable()
class Sequential(Model):
    """A stack of layers, each called on the previous one's output.

    The graph is built as soon as the input shape is known (an `Input` first, an
    `input_shape=` on the first layer, or the first call on data) and then run by the same
    engine as functional models. `layers` lists the layers without an input layer.
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        self._stack = []
        self._input = None
        self._own_nodes = []
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if node_lib.is_symbolic(layer):
            if self._stack or self._input is not None:
                raise ConfigurationError(
                    f"Sequential '{self.name}': an Input can only come first."
                )
            self._input = layer
        elif isinstance(layer, InputLayer):
            self.add(layer.output)
            return
        elif callable(layer) and hasattr(layer, "_variables"):
            if self._input is None and not self._stack and layer._input_shape_arg is not None:
                self._input = Input(shape=layer._input_shape_arg)
            self._stack.append(layer)
        else:
            raise ConfigurationError(
                f"Sequential '{self.name}'.add: expected a Layer or an Input, received "
                f"{layer!r} (of type {type(layer).__name__})."
            )
        self._rebuild()

    def pop(self):
        layer = self._stack.pop()
        self._rebuild()
        return layer

    def _rebuild(self):
        # forget the nodes of the previous graph so `layer.output` refers to the current one
        for node in self._own_nodes:
            node.layer._inbound_nodes.remove(node)
        self._own_nodes = []
        self._graph = None
        self.built = False
        trainability_version.bump()  # the structure changed: resolve and trace again
        if self._input is None or not self._stack:
            return
        x = self._input
        for layer in self._stack:
            x = layer(x)
            self._own_nodes.append(layer._inbound_nodes[-1])
        self._graph = Graph(self._input, x, self.name)
        self.built = True

    def build(self, input_shape):
        if self._graph is None:
            self._input = Input(shape=tuple(input_shape)[1:])
            self._rebuild()

    def host_inputs(self, x):
        """As `Model.host_inputs`; a stack that starts with a host layer (TextVectorization)
        and has no `Input` yet gets a string input shaped like the text `x`."""
        first = self._stack[0] if self._stack else None
        if self._graph is None and getattr(first, "runs_on_host", False):
            text = np.asarray(x, dtype=object) if isinstance(x, (list, tuple)) else x
            if getattr(text, "dtype", None) is not None and np.dtype(text.dtype).kind in "USO":
                self._input = Input(shape=tuple(text.shape)[1:], dtype="string")
                self._rebuild()
        return super().host_inputs(x)

    def _explicit_sublayers(self):
        return list(self._stack)

    @property
    def layers(self):
        return list(self._stack)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "layers": [registry.serialize(layer) for layer in self._stack]}
        if self._input is not None:
            config["input"] = registry.serialize(self._input.node.layer)
        return config

    @classmethod
    def from_config(cls, config):
        layers = [registry.deserialize(entry) for entry in config["layers"]]
        if "input" in config:
            layers.insert(0, registry.deserialize(config["input"]))
        return cls(layers, name=config["name"], trainable=config["trainable"])

    def call(self, inputs, training=None, mask=None):
        if self._graph is None:
            raise ConfigurationError(f"Sequential '{self.name}' has no layers.")
        return super().call(inputs, training=training, mask=mask)
