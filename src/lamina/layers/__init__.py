"""Layers with Keras 3 names."""
from lamina.core.layer import Layer as Layer
from lamina.core.node import InputLayer as InputLayer
from lamina.layers.core import Activation as Activation
from lamina.layers.core import Dense as Dense
from lamina.layers.merging import Add as Add
from lamina.layers.merging import Concatenate as Concatenate
from lamina.layers.normalization import BatchNormalization as BatchNormalization
from lamina.layers.regularization import Dropout as Dropout
from lamina.layers.reshaping import Flatten as Flatten
from lamina.layers.reshaping import Reshape as Reshape

from lamina.core.model import Model as _Model  # noqa: E402
from lamina.core.sequential import Sequential as _Sequential  # noqa: E402
from lamina.saving import register_serializable as _register  # noqa: E402

for _cls in (Layer, InputLayer, Activation, Dense, Add, Concatenate, BatchNormalization, Dropout,
             Flatten, Reshape, _Model, _Sequential):
    _register()(_cls)
