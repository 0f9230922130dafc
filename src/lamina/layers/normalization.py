"""BatchNormalization, whose mode follows DESIGN rule 7."""
import jax.numpy as jnp

from lamina.core import scope as scope_lib
from lamina.core.layer import Layer


class BatchNormalization(Layer):
    """Normalises with batch statistics when training, with moving statistics otherwise.

    Frozen layers run in inference mode (rule 7): when the use path through which the model
    being trained calls this layer is closed (a `trainable = False` flag or a scoped `freeze`),
    it normalises with the moving statistics and does not update them, exactly as Keras does
    for a layer with `trainable = False`. `training=` passed explicitly to this layer's call
    always wins. `train_when_frozen=True` keeps batch statistics (and their updates) for a
    frozen layer.

    Args:
        axis: the feature axis (default -1).
        momentum: moving average momentum (Keras default 0.99).
        epsilon: added to the variance.
        center, scale: learn `beta` / `gamma`.
    """

    supports_masking = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 train_when_frozen=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.train_when_frozen = train_when_frozen

    def build(self, input_shape):
        dim = input_shape[self.axis]
        self.gamma = self.add_weight((dim,), "ones", name="gamma") if self.scale else None
        self.beta = self.add_weight((dim,), "zeros", name="beta") if self.center else None
        self.moving_mean = self.add_weight((dim,), "zeros", trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight((dim,), "ones", trainable=False,
                                               name="moving_variance")

    def _use_batch_statistics(self, training):
        frame = scope_lib.current_frame()
        if not training:
            return False
        if frame.training_explicit or self.train_when_frozen:
            return True
        return frame.path.open

    def call(self, inputs, training=False):
        axis = self.axis % inputs.ndim
        reduce_axes = tuple(i for i in range(inputs.ndim) if i != axis)
        broadcast = [1] * inputs.ndim
        broadcast[axis] = inputs.shape[axis]
        x = inputs.astype(self.dtype)
        if self._use_batch_statistics(training):
            mean = jnp.mean(x, axis=reduce_axes)
            variance = jnp.var(x, axis=reduce_axes)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean.value * m + mean * (1 - m))
            self.moving_variance.assign(self.moving_variance.value * m + variance * (1 - m))
        else:
            mean, variance = self.moving_mean.value, self.moving_variance.value
        y = (x - mean.reshape(broadcast)) * jnp.reciprocal(
            jnp.sqrt(variance.reshape(broadcast) + self.epsilon))
        if self.gamma is not None:
            y = y * self.gamma.value.reshape(broadcast)
        if self.beta is not None:
            y = y + self.beta.value.reshape(broadcast)
        return y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "train_when_frozen": self.train_when_frozen}
