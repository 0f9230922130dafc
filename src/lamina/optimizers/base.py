"""The optimizer base: Keras's shared options (clipping, decay, EMA, accumulation, a live or
scheduled learning rate) around one optax transform per subclass, and the raw-optax wrapper."""
import contextlib

import optax

from lamina.core import naming
from lamina.errors import AbstractMethodError, ConfigurationError, UsageError
from lamina.optimizers import schedules, transforms


class Optimizer:
    """Base: subclasses name an optax alias and map Keras argument names onto it.

    Args (every optimizer, as Keras 3's base optimizer):
        learning_rate: a number, or a schedule (`lamina.optimizers.schedules`, or any
            callable `step -> rate`) evaluated at the optimizer's update count.
        weight_decay: decoupled decay, `w -= learning_rate * weight_decay * w` per update.
        clipnorm: clip each gradient tensor to this L2 norm.
        clipvalue: clip each gradient element to [-clipvalue, clipvalue].
        global_clipnorm: clip all gradients together to this global L2 norm.
        use_ema, ema_momentum, ema_overwrite_frequency: keep an exponential moving average
            of the weights; `fit` puts the averages into the model when it ends, and
            every `ema_overwrite_frequency` updates when given.
        gradient_accumulation_steps: apply the mean gradient of every N batches (the other
            steps leave the weights unchanged).

    `learning_rate` is live: setting it after `compile()` changes the rate the next step
    uses (it is written into the injected hyperparameters of every model compiled with this
    optimizer), without recompiling. With a schedule it reads the schedule's current value
    and cannot be set.
    """

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, gradient_accumulation_steps=None, name=None):
        owner = type(self).__name__
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ConfigurationError(
                f"{owner}: expected at most one of clipnorm, clipvalue and global_clipnorm, "
                f"received clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, "
                f"global_clipnorm={global_clipnorm!r}.")
        for arg, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm),
                           ("weight_decay", weight_decay)):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ConfigurationError(f"{owner}: expected a non-negative number for "
                                         f"`{arg}`, received {value!r}.")
        if gradient_accumulation_steps is not None and (
                not isinstance(gradient_accumulation_steps, int)
                or gradient_accumulation_steps < 1):
            raise ConfigurationError(f"{owner}: expected a positive integer "
                                     f"gradient_accumulation_steps, received "
                                     f"{gradient_accumulation_steps!r}.")
        if not 0 <= ema_momentum < 1:
            raise ConfigurationError(f"{owner}: expected 0 <= ema_momentum < 1, received "
                                     f"{ema_momentum!r}.")
        if isinstance(learning_rate, dict):
            learning_rate = schedules.deserialize(learning_rate)
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.use_ema, self.ema_momentum = bool(use_ema), ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.name = name or naming.to_snake_case(owner)
        self._listeners = []

    @property
    def has_schedule(self):
        return callable(self._learning_rate)

    @property
    def iterations(self):
        """Steps run by the model most recently compiled with this optimizer."""
        trainers = [getattr(fn, "__self__", None) for fn in self._listeners]
        return next((t.iterations for t in reversed(trainers) if t is not None), 0)

    @property
    def learning_rate(self):
        if self.has_schedule:
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if self.has_schedule:
            raise ConfigurationError(
                f"{type(self).__name__}: the learning rate follows the schedule "
                f"{type(self._learning_rate).__name__} given at construction, so it cannot be "
                "set. Build the optimizer with a number to change the rate during training.")
        self._learning_rate = value
        for listener in self._listeners:
            listener(value)

    def _transform(self, learning_rate):
        raise AbstractMethodError(
            f"{type(self).__name__} does not define `_transform(self, learning_rate)`: "
            "expected every subclass of Optimizer to define it.")

    def _chain(self, learning_rate):
        """The full update for one rate: clipping, the optimizer, decay, EMA, accumulation."""
        parts = []
        if self.clipvalue is not None:
            parts.append(optax.clip(self.clipvalue))
        if self.clipnorm is not None:
            parts.append(transforms.clip_each_by_norm(self.clipnorm))
        if self.global_clipnorm is not None:
            parts.append(optax.clip_by_global_norm(self.global_clipnorm))
        parts.append(self._transform(learning_rate))
        if self.weight_decay:
            parts.append(optax.add_decayed_weights(-learning_rate * self.weight_decay))
        if self.use_ema:
            parts.append(transforms.ema_weights(self.ema_momentum,
                                                self.ema_overwrite_frequency))
        tx = optax.chain(*parts) if len(parts) > 1 else parts[0]
        if self.gradient_accumulation_steps and self.gradient_accumulation_steps > 1:
            tx = optax.MultiSteps(tx, self.gradient_accumulation_steps).gradient_transformation()
        return tx

    def build(self, model=None):
        """The optax transform for `model` (optimizers that treat variables differently, such
        as per-group rates, read the model's variables; the others ignore it)."""
        return optax.inject_hyperparams(self._chain)(learning_rate=self._learning_rate)

    def averaged_weights(self, opt_state):
        """The EMA of the weights kept in `opt_state` (uid -> array), or None without EMA."""
        state = transforms.find_ema_state(opt_state) if self.use_ema else None
        return None if state is None else state.average

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """Keras 3's pure update inside a custom `train_step(self, state, data)`:
        `(trainable_variables, optimizer_variables)` after one step with `grads` (lists in
        the order of the step's state). lamina's step binds it to the optimizer state of
        the configuration it traces; the update is `training.opt_state.apply_gradients`
        (constraints, loss-scale checks, frozen variables' state kept aside)."""
        apply = _STATELESS.get(id(self))
        if apply is None:
            raise UsageError(
                f"{type(self).__name__}.stateless_apply: expected to run inside a custom "
                "`train_step(self, state, data)` of a model compiled with this optimizer, "
                "received a call outside one: lamina binds the optimizer state there.")
        return apply(optimizer_variables, grads, trainable_variables)

    def get_config(self):
        config = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        rate = self._learning_rate
        if self.has_schedule:
            rate = schedules.serialize(rate)
            if not isinstance(rate, dict):
                raise ConfigurationError(
                    f"{type(self).__name__}: cannot save the learning-rate function "
                    f"{rate!r}; use a lamina.optimizers.schedules class to make it savable.")
        return {"learning_rate": rate, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


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

    def build(self, model=None):
        return self.transform


# -- Keras 3's stateless update, bound by the step that runs a custom train_step ---------
_STATELESS = {}  # id(optimizer) -> apply(optimizer_variables, grads, trainable_variables)


@contextlib.contextmanager
def stateless_binding(optimizer, apply):
    """Within this block `optimizer.stateless_apply(...)` runs `apply` (lamina's step binds
    it to the optimizer state of the configuration it traces)."""
    previous = _STATELESS.get(id(optimizer))
    _STATELESS[id(optimizer)] = apply
    try:
        yield
    finally:
        if previous is None:
            del _STATELESS[id(optimizer)]
        else:
            _STATELESS[id(optimizer)] = previous

