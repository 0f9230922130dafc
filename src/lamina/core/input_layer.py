"""`InputLayer` and `lamina.Input`: where a functional graph starts."""
from lamina.core.layer import Layer
from lamina.core.node import Node, SymbolicTensor
from lamina.errors import ConfigurationError


class InputLayer(Layer):
    """The layer behind `lamina.Input`; it holds no variables and passes its input through."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 **kwargs):
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ConfigurationError("InputLayer: expected `shape=` (without the batch size).")
        super().__init__(name=name, dtype=dtype or "float32", **kwargs)
        self.shape = (batch_size,) + tuple(shape)
        self.built = True
        tensor = SymbolicTensor(self.shape, self.dtype, None, 0, self.name)
        tensor.node = Node(self, (), {}, tensor, is_input=True)
        self._inbound_nodes.append(tensor.node)

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self.shape), "dtype": self.dtype}


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """A symbolic input tensor of `shape` (without the batch dimension)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name).output
