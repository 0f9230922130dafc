"""Keras-named optimizers: thin recipes that build optax transforms.

Each optimizer is configuration plus `build() -> optax.GradientTransformation`. The
learning rate is injected as a hyperparameter (`optax.inject_hyperparams`), so it is part
of the optimizer state: readable and settable between steps without recompiling. Any raw
optax `GradientTransformation` is accepted where an optimizer is expected.
"""
from lamina.optimizers import schedules as schedules
from lamina.optimizers.base import OptaxOptimizer as OptaxOptimizer
from lamina.optimizers.base import Optimizer as Optimizer
from lamina.optimizers.catalogue import OPTIMIZERS as OPTIMIZERS
from lamina.optimizers.catalogue import SGD as SGD
from lamina.optimizers.catalogue import Adadelta as Adadelta
from lamina.optimizers.catalogue import Adafactor as Adafactor
from lamina.optimizers.catalogue import Adagrad as Adagrad
from lamina.optimizers.catalogue import Adam as Adam
from lamina.optimizers.catalogue import Adamax as Adamax
from lamina.optimizers.catalogue import AdamW as AdamW
from lamina.optimizers.catalogue import Lamb as Lamb
from lamina.optimizers.catalogue import Lion as Lion
from lamina.optimizers.catalogue import Nadam as Nadam
from lamina.optimizers.catalogue import RMSprop as RMSprop
from lamina.optimizers.catalogue import get as get
from lamina.optimizers.loss_scale import LossScaleOptimizer as LossScaleOptimizer
from lamina.optimizers.partitioned import Partitioned as Partitioned
