"""Exception classes and the long messages that teach how to fix a mistake."""


class LaminaError(Exception):
    """Base class of every error lamina raises on purpose."""


class InputSpecError(LaminaError, ValueError):
    """An input does not match what a layer or model expects (shape, rank, dtype, length)."""


class NotTrainableError(LaminaError, RuntimeError):
    """Training was asked for a model in which no variable would be updated."""


class ConfigurationError(LaminaError, ValueError):
    """An argument (a name, an option, a structure) is not one lamina understands."""


class SavingError(LaminaError, ValueError):
    """A file could not be saved or loaded: it names the file, the member and what was wrong."""


class GraphError(LaminaError, ValueError):
    """A functional model's graph is malformed (disconnected tensors, unknown layers)."""


class ArgumentTypeError(LaminaError, TypeError):
    """An argument has a type lamina cannot use (a callable, a number, an array was expected)."""


class LayerNotFoundError(LaminaError, KeyError):
    """A layer or weight was looked up in a model that does not contain it."""

    def __str__(self):  # the message as written, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


class UnknownAttributeError(LaminaError, AttributeError):
    """A module or object has no attribute of this name (the `__getattr__` protocol)."""


class AbstractMethodError(LaminaError, NotImplementedError):
    """A base class method that a subclass must implement was called on a class that does not."""


class UsageError(LaminaError, RuntimeError):
    """A method was called when it cannot run: before `compile`, outside `fit`, or after the
    point where it could still take effect."""


class LayerCycleError(LaminaError, RecursionError):
    """A layer contains itself, directly or through the layers it holds."""


class NotARegularFileError(LaminaError, OSError):
    """A path lamina reads is not a regular file (a directory, a FIFO, a device): refused, so
    that a read never blocks or consumes a special file."""


class UntrackedVariableError(LaminaError, RuntimeError):
    """A step read a variable of a layer that the model being run does not track."""


class NotSupportedError(LaminaError, NotImplementedError):
    """The model does not offer this operation (a GAN has no evaluation loss)."""


MSG_NOTHING_TRAINABLE = """\
Model '{root}' has no variable that a training step would update, so training it would
silently do nothing. Every use path from '{root}' to a trainable variable is closed:
{reasons}
If you froze a sub-model only so that another model trains *through* it (the Keras 2 GAN
recipe `D.trainable = False` before building the combined model), keep the flag True and
freeze it in the enclosing model's scope instead:
    D.trainable = True
    combined.freeze(D)       # D is a constant inside `combined`, D still trains on its own
Otherwise set `trainable = True` on one of the objects named above."""

MSG_TRACED_ASSIGN = """\
Variable '{path}' was assigned a traced value outside a lamina training or inference step
(for example a BatchNormalization statistic update inside your own `jax.jit`). Storing it
would leak a tracer. Call the model through `model.fit` / `train_on_batch` / `predict`, or
run your own jitted function over `lamina.training.step.apply(model, values, inputs,
training)`, which returns the updates instead of storing them."""

MSG_TRAINABLE_ASSIGN = """\
Variable '{path}' trains by its own flag and was assigned inside a training or inference
step. A step owns the value of every weight that can train (its optimizer updates it), so the
assignment would be lost. Assign only state variables inside `call`: create them with
`add_weight(..., trainable=False)` (counters, statistics, as Keras's non-trainable weights),
or assign the weight outside the step (eagerly, or in a callback)."""

MSG_TRACED_CONCRETE = """\
Variable '{path}': {what} needs a concrete value, but inside a compiled step (fit, evaluate,
predict, or your own jax.jit) the variable holds a traced one. Use array operations instead of
Python values: `jnp.where(v > 0, a, b)` rather than `if v > 0:`, `v.value` or `v` itself in
`jnp` functions rather than `float(v)` or `v.numpy()`."""

MSG_OPT_STATE_NOT_SPLIT = """\
{what}: the optimizer transform '{name}' cannot train while weights are frozen ({frozen}).
lamina updates only the trained weights and keeps the optimizer state of frozen ones
untouched, so their moments resume when they train again; that needs an optimizer state with
one entry per parameter, keyed like the parameters, as optax's adam or sgd keep. The state of
'{name}' is not split that way ({detail}).
Fix: use a per-parameter transform (optax.adam, optax.sgd, ... or a lamina optimizer such as
lamina.optimizers.Adam); or keep every weight trainable and hold some fixed inside the
transform (optax.multi_transform with optax.set_to_zero() for them)."""


MSG_UNTRACKED_VARIABLE = """\
Layer '{layer}' (variable '{path}') was called inside a step of model '{root}', but '{root}'
does not track it: expected every layer that '{root}' calls to be reachable from its
attributes, received a call via {via}. A layer '{root}' does not track is missing from
'{root}.weights' and from `{root}.explain()`: it would run on its stored values and never train.
Fix: hold the layer in an attribute of the model, or in a list or dict attribute;
lamina does not look inside other objects (helper objects, closures, globals)."""


def expected_received(what, expected, received):
    """One line in the house style: what was expected, what was received (value and type)."""
    return (f"{what}: expected {expected}, received {received!r} "
            f"(of type {type(received).__name__}).")
