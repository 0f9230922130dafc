"""Saving and loading: whole models (`.lamina` archives, Keras `.keras` and `.h5` files),
weights and training checkpoints; the class registry that files name classes through lives in
`lamina.core.registry` and is re-exported here under Keras's names."""
from lamina.core.registry import deserialize as deserialize
from lamina.core.registry import register_function as register_function
from lamina.core.registry import register_serializable as register_serializable
from lamina.core.registry import serialize as serialize
from lamina.saving.model_io import load_model as load_model
from lamina.saving.model_io import load_weights as load_weights
from lamina.saving.model_io import save_model as save_model
from lamina.saving.model_io import save_weights as save_weights
from lamina.utils.registration import (
    register_keras_serializable as register_keras_serializable,
)
