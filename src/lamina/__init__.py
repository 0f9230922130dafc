"""lamina: a Keras-style deep-learning library on JAX and optax.

The public API, as explicit re-exports. See docs/design.md for the design contract.
"""
from lamina import activations as activations
from lamina import applications as applications
from lamina import callbacks as callbacks
from lamina import config as config
from lamina import datasets as datasets
from lamina import distribution as distribution
from lamina import initializers as initializers
from lamina import layers as layers
from lamina import losses as losses
from lamina import metrics as metrics
from lamina import mixed_precision as mixed_precision
from lamina import models as models
from lamina import ops as ops
from lamina import optimizers as optimizers
from lamina import random as random
from lamina import saving as saving
from lamina import tree as tree
from lamina import utils as utils
from lamina.core.input_layer import Input as Input
from lamina.core.layer import Layer as Layer
from lamina.core.naming import reset_names as reset_names
from lamina.core.node import SymbolicTensor as KerasTensor  # noqa: F401 (public, Keras name)
from lamina.core.variables import Variable as Variable
from lamina.errors import ConfigurationError as ConfigurationError
from lamina.errors import GraphError as GraphError
from lamina.errors import InputSpecError as InputSpecError
from lamina.errors import LaminaError as LaminaError
from lamina.errors import NotTrainableError as NotTrainableError
from lamina.errors import SavingError as SavingError
from lamina.errors import UntrackedVariableError as UntrackedVariableError
from lamina.models.model import Model as Model
from lamina.models.sequential import Sequential as Sequential
from lamina.trainability import resolve as resolve_trainability  # noqa: F401 (public)
from lamina.utils.explain import explain as explain
from lamina.utils.explain import explain_layer as explain_layer
from lamina.version import __version__ as __version__
