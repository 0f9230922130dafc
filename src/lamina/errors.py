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

MSG_OPT_STATE_NOT_SPLIT = """\
{what}: the optimizer transform '{name}' cannot train while weights are frozen ({frozen}).
lamina updates only the trained weights and keeps the optimizer state of frozen ones
untouched, so their moments resume when they train again; that needs an optimizer state with
one entry per parameter, keyed like the parameters, as optax's adam or sgd keep. The state of
'{name}' is not split that way ({detail}).
Fix: use a per-parameter transform (optax.adam, optax.sgd, ... or a lamina optimizer such as
lamina.optimizers.Adam); or keep every weight trainable and hold some fixed inside the
transform (optax.multi_transform with optax.set_to_zero() for them)."""


def expected_received(what, expected, received):
    """One line in the house style: what was expected, what was received (value and type)."""
    return f"{what}: expected {expected}, received {received!r} (of type {type(received).__name__})."
