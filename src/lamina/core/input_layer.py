"""`InputLayer` and `lamina.Input`: where a functional graph starts."""
from lamina.core.layer import Layer
from lamina.core.node import Node, SymbolicTensor, as_dtype, is_string
from lamina.errors import ConfigurationError


class InputLayer(Layer):
    """The layer behind `lamina.Input`; it holds no variables and passes its input through."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 **kwargs):
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ConfigurationError("InputLayer: expected `shape=` (without the batch size).")
        text = dtype is not None and is_string(as_dtype(dtype))
        super().__init__(name=name, dtype=None if text else dtype or "float32", **kwargs)
        if text:  # text input: read only by host preprocessing layers (TextVectorization)
            self.dtype = "string"
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
    """A symbolic input tensor of `shape` (without the batch dimension); `dtype="string"`
    for raw text, which only host preprocessing layers read (docs/preprocessing.md)."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name).output
