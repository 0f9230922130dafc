"""The Keras optimizers, each a thin recipe over an optax alias.

Every class accepts the base options of `Optimizer` (weight_decay, clipnorm, clipvalue,
global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
gradient_accumulation_steps, name) as keyword arguments. Keras's `Ftrl` has no optax
counterpart and is not provided.
"""
import optax

from lamina.errors import ConfigurationError
from lamina.optimizers.base import OptaxOptimizer, Optimizer


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum, self.nesterov = momentum, nesterov

    def _transform(self, learning_rate):
        return optax.sgd(learning_rate, momentum=self.momentum or None, nesterov=self.nesterov)


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _transform(self, learning_rate):
        if self.amsgrad:
            return optax.amsgrad(learning_rate, self.beta_1, self.beta_2, self.epsilon)
        return optax.adam(learning_rate, self.beta_1, self.beta_2, self.epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras default `weight_decay=0.004`)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _transform(self, learning_rate):
        return optax.rmsprop(learning_rate, decay=self.rho, eps=self.epsilon,
                             momentum=self.momentum or None, centered=self.centered)


class Adagrad(Optimizer):
    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _transform(self, learning_rate):
        return optax.adagrad(learning_rate, self.initial_accumulator_value, self.epsilon)


class Adadelta(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _transform(self, learning_rate):
        return optax.adadelta(learning_rate, self.rho, self.epsilon)


class Adamax(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _transform(self, learning_rate):
        return optax.adamax(learning_rate, self.beta_1, self.beta_2, self.epsilon)


class Nadam(Optimizer):
    """Adam with Nesterov momentum, as optax.nadam computes it (Dozat's form; Keras adds a
    momentum-decay schedule, so the two differ slightly in early steps)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _transform(self, learning_rate):
        return optax.nadam(learning_rate, self.beta_1, self.beta_2, self.epsilon)


class Lion(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ConfigurationError(f"Lion: expected 0 < beta_1 <= 1, received {beta_1!r}.")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _transform(self, learning_rate):
        return optax.lion(learning_rate, self.beta_1, self.beta_2)


class Lamb(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _transform(self, learning_rate):
        return optax.lamb(learning_rate, self.beta_1, self.beta_2, self.epsilon)


class Adafactor(Optimizer):
    """Factored second moments (optax.adafactor); `beta_2_decay`, `epsilon_1`,
    `clip_threshold` map onto optax's decay_rate, eps and clipping_threshold."""

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30,
                 clip_threshold=1.0, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_2_decay, self.epsilon_1 = beta_2_decay, epsilon_1
        self.clip_threshold = clip_threshold

    def _transform(self, learning_rate):
        return optax.adafactor(learning_rate, decay_rate=-self.beta_2_decay,
                               clipping_threshold=self.clip_threshold, eps=self.epsilon_1,
                               multiply_by_parameter_scale=False)


OPTIMIZERS = (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion, Lamb,
              Adafactor)
_REGISTRY = {cls.__name__.lower(): cls for cls in OPTIMIZERS}


def get(identifier):
    """An `Optimizer` from a name, an instance or an optax GradientTransformation."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier.lower())
        if cls is None:
            raise ConfigurationError(
                f"Unknown optimizer {identifier!r}. Valid names: {', '.join(sorted(_REGISTRY))}."
            )
        return cls()
    if isinstance(identifier, optax.GradientTransformation):
        return OptaxOptimizer(identifier)
    raise ConfigurationError(
        f"Expected an optimizer name, lamina optimizer or optax GradientTransformation, "
        f"received {identifier!r} (of type {type(identifier).__name__})."
    )
