"""Keras-named optimizers: thin recipes that build optax transforms.

Each optimizer is configuration plus `build() -> optax.GradientTransformation`. The
learning rate is injected as a hyperparameter (`optax.inject_hyperparams`), so it is part
of the optimizer state: readable and settable between steps without recompiling. Any raw
optax `GradientTransformation` is accepted where an optimizer is expected.
"""
import optax

from lamina.errors import ConfigurationError


class Optimizer:
    """Base: subclasses name an optax alias and map Keras argument names onto it.

    `learning_rate` is live: setting it after `compile()` changes the rate the next step
    uses (it is written into the injected hyperparameters of every model compiled with this
    optimizer), without recompiling.
    """

    def __init__(self, learning_rate=0.001):
        self._learning_rate = learning_rate
        self._listeners = []

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = value
        for listener in self._listeners:
            listener(value)

    def _transform(self, learning_rate):
        raise NotImplementedError

    def build(self):
        return optax.inject_hyperparams(self._transform)(learning_rate=self.learning_rate)

    def get_config(self):
        config = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return {"learning_rate": self.learning_rate, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum, self.nesterov = momentum, nesterov

    def _transform(self, learning_rate):
        return optax.sgd(learning_rate, momentum=self.momentum or None, nesterov=self.nesterov)


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _transform(self, learning_rate):
        if self.amsgrad:
            return optax.amsgrad(learning_rate, self.beta_1, self.beta_2, self.epsilon)
        return optax.adam(learning_rate, self.beta_1, self.beta_2, self.epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras default `weight_decay=0.004`)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad)
        self.weight_decay = weight_decay

    def _transform(self, learning_rate):
        return optax.adamw(learning_rate, self.beta_1, self.beta_2, self.epsilon,
                           weight_decay=self.weight_decay)


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False):
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _transform(self, learning_rate):
        return optax.rmsprop(learning_rate, decay=self.rho, eps=self.epsilon,
                             momentum=self.momentum or None, centered=self.centered)


class OptaxOptimizer(Optimizer):
    """Wraps a raw `optax.GradientTransformation` given as `optimizer=`."""

    def __init__(self, transform):
        super().__init__(learning_rate=None)
        self.transform = transform

    @property
    def learning_rate(self):
        return None

    @learning_rate.setter
    def learning_rate(self, value):
        if value is not None:
            raise ConfigurationError(
                "This optimizer is a raw optax GradientTransformation, whose learning rate "
                "lamina cannot change. Build it with optax.inject_hyperparams, or use a lamina "
                "optimizer (lamina.optimizers.Adam(...)) to set the rate between steps."
            )

    def build(self):
        return self.transform


_REGISTRY = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


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
