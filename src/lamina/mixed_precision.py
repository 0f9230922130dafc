"""Keras 3's `keras.mixed_precision` names: dtype policies (`lamina.core.dtype_policy`) and the
loss-scaling optimizer (`lamina.optimizers.loss_scale`)."""
from lamina.core.dtype_policy import DTypePolicy as DTypePolicy
from lamina.core.dtype_policy import get as get
from lamina.core.dtype_policy import global_policy as global_policy
from lamina.core.dtype_policy import policy_scope as policy_scope
from lamina.core.dtype_policy import set_global_policy as set_global_policy
from lamina.optimizers.loss_scale import LossScaleOptimizer as LossScaleOptimizer
