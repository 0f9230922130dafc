"""Lambda: a layer that runs a function of its inputs, saved by the function's registered name.

lamina never saves code. A Lambda whose function (and mask function) is registered with
`lamina.saving.register_function` saves that name and loads by it; a Lambda of an
unregistered function (a `lambda`, a closure) runs normally, but `get_config` and
`model.save` refuse it with a message saying how to register it.
"""
import inspect

import jax

from lamina.core import registry
from lamina.core.layer import Layer
from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError

MSG_UNREGISTERED = """\
Lambda '{layer}': its {what} {fn!r} is not registered, so the layer cannot be saved (lamina \
saves functions by name, never their code). Define it with `def` at module level and register \
it (any time before saving):
    lamina.saving.register_function(my_function, name="my_package.my_function")
or decorate it with @lamina.saving.register_serializable(). Loading needs the same \
registration: import the module that registers it before lamina.models.load_model."""


def _resolve(layer, value, what):
    """A callable from a callable or a registered function name."""
    if isinstance(value, str):
        return registry.get_function(value)
    if not callable(value):
        raise ArgumentTypeError(
            f"Lambda '{layer.name}': expected `{what}` to be a callable or the name "
            f"of a registered function, received {value!r} (of type "
            f"{type(value).__name__}).")
    return value


def _takes(fn, name):
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without an inspectable signature
        return False


def _is_shape(value):
    return isinstance(value, (list, tuple)) and all(
        d is None or isinstance(d, int) and not isinstance(d, bool) for d in value)


def _as_shapes(layer, value, what):
    """A shape as a tuple, a list of shapes as a list of tuples."""
    if _is_shape(value):
        return tuple(value)
    if isinstance(value, (list, tuple)) and value and all(_is_shape(s) for s in value):
        return [tuple(s) for s in value]
    raise ConfigurationError(
        f"Lambda '{layer.name}': expected `{what}` to be a shape (a tuple of ints "
        f"or None), a list of shapes or a callable, received {value!r}.")


def _matches(expected, actual):
    return len(expected) == len(actual) and all(
        e is None or e == a for e, a in zip(expected, actual, strict=True))


class Lambda(Layer):
    """Wraps `function(inputs, **arguments)` as a layer.

    The function must be a pure function of its inputs (jax.numpy operations, no variables):
    it runs under `jax.jit` and `jax.grad` like any layer call. If it takes `mask` or
    `training` parameters, it receives the input mask and the training flag.

    Args:
        function: a callable, or the name of a function registered with
            `lamina.saving.register_function`.
        output_shape: optional check of the output: a shape without the batch axis (None
            matches any size), a list of such shapes for several outputs, or a callable from
            the input shape(s) to the output shape(s) with the batch axis. lamina infers
            output shapes itself; a declared one that disagrees raises InputSpecError.
        mask: None (the layer drops input masks), or a callable `(inputs, mask) -> mask`
            (or a registered name) giving the output mask; the layer then supports masking.
            A fixed mask tensor (allowed by Keras) is not accepted: it cannot be saved.
        arguments: a dict of extra keyword arguments for `function` (saved in the config, so
            it must hold JSON values: numbers, strings, booleans, None, lists and dicts).
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function = _resolve(self, function, "function")
        if output_shape is None or isinstance(output_shape, str) or callable(output_shape):
            self._output_shape = (None if output_shape is None
                                 else _resolve(self, output_shape, "output_shape"))
        else:
            self._output_shape = _as_shapes(self, output_shape, "output_shape")
        self.mask = _resolve(self, mask, "mask") if mask is not None else None
        self.supports_masking = self.mask is not None
        if arguments is not None and not isinstance(arguments, dict):
            raise ConfigurationError(
                f"Lambda '{self.name}': expected `arguments` to be a dict, "
                f"received {arguments!r}.")
        self.arguments = dict(arguments or {})
        self._fn_takes_mask = _takes(self.function, "mask")
        self._fn_takes_training = _takes(self.function, "training")
        self.built = True

    def call(self, inputs, mask=None, training=False):
        kwargs = dict(self.arguments)
        if self._fn_takes_mask:
            kwargs["mask"] = mask
        if self._fn_takes_training:
            kwargs["training"] = training
        outputs = self.function(inputs, **kwargs)
        if self._output_shape is not None:
            self._check_output_shape(inputs, outputs)
        return outputs

    def _check_output_shape(self, inputs, outputs):
        actual = [tuple(o.shape) for o in jax.tree_util.tree_leaves(outputs)]
        if callable(self._output_shape):
            in_shapes = jax.tree_util.tree_map(lambda x: tuple(x.shape), inputs)
            declared = self._output_shape(in_shapes)
            declared = _as_shapes(self, declared, "output_shape (as returned by the callable)")
        else:  # without the batch axis
            declared, actual = self._output_shape, [s[1:] for s in actual]
        expected = [declared] if isinstance(declared, tuple) else declared
        if len(expected) != len(actual) or not all(map(_matches, expected, actual)):
            raise InputSpecError(
                f"Lambda '{self.name}': output_shape declares {declared} "
                f"({'with' if callable(self._output_shape) else 'without'} the batch axis), but "
                f"the function returned outputs of shape {actual if len(actual) > 1 else actual[0]}"
                ". Fix `output_shape` or the function.")

    def compute_mask(self, inputs, previous_mask):
        return self.mask(inputs, previous_mask) if self.mask is not None else None

    # -- config ----------------------------------------------------------------------
    def _function_name(self, fn, what):
        name = registry.function_name(fn)
        if name is None:
            raise ConfigurationError(MSG_UNREGISTERED.format(layer=self.name, what=what, fn=fn))
        return name

    def get_config(self):
        output_shape = self._output_shape
        if callable(output_shape):
            output_shape = self._function_name(output_shape, "output_shape function")
        if not _is_json(self.arguments):
            raise ConfigurationError(
                f"Lambda '{self.name}': expected `arguments` to hold only JSON values (numbers, "
                f"strings, booleans, None, lists and dicts with string keys) so that they can "
                f"be saved, received {self.arguments!r}. Pass arrays as inputs instead.")
        mask = self.mask and self._function_name(self.mask, "mask function")
        return {
            **super().get_config(),
            "function": self._function_name(self.function, "function"),
            "output_shape": output_shape,
            "mask": mask,
            "arguments": self.arguments,
        }


def _is_json(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(map(_is_json, value))
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


LAYERS = (Lambda,)
