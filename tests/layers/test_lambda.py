"""Lambda: harness rows (registered functions), values and gradients against numpy, masks and
the training flag, saving by registered name (model.save -> load_model), and the refusals:
unregistered functions, non-JSON arguments, wrong declared output shapes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.lambda_layer import LAYERS, Lambda
from lamina.saving import register_function, register_serializable

for _cls in LAYERS:  # the lead wires the package exports; the registry accepts re-registration
    register_serializable()(_cls)

RTOL, ATOL = 1e-5, 1e-6


def square_plus_sin(x, scale=1.0):
    return scale * x ** 2 + jnp.sin(x)


def weighted_sum(inputs):
    a, b = inputs
    return a + 2.0 * b


def split_halves(x):
    return [x[:, :2], x[:, 2:]]


def keep_mask(inputs, mask):
    return mask


def mask_probe(x, mask=None):
    """Zeroes the masked steps of a (batch, steps, features) input."""
    return x if mask is None else x * mask[..., None].astype(x.dtype)


def noisy_when_training(x, training=False):
    return x + 1.0 if training else x


def last_axis_shape(input_shape):
    return input_shape[:-1] + (1,)


def last_axis_sum(x):
    return jnp.sum(x, axis=-1, keepdims=True)


for _fn in (square_plus_sin, weighted_sum, split_halves, keep_mask, mask_probe,
            noisy_when_training, last_axis_shape, last_axis_sum):
    register_function(_fn, f"test_lambda.{_fn.__name__}")


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


HARNESS_CASES = [
    LayerCase("lambda", lambda: Lambda(square_plus_sin), _normal(6, 3), (6, 3),
              trainable_params=0, supports_masking=False),
    LayerCase("lambda-arguments-output-shape",
              lambda: Lambda(square_plus_sin, output_shape=(4, 3), arguments={"scale": 0.5}),
              _normal(6, 4, 3), (6, 4, 3), trainable_params=0),
    LayerCase("lambda-by-name", lambda: Lambda("test_lambda.square_plus_sin"), _normal(6, 3),
              (6, 3), trainable_params=0),
    LayerCase("lambda-two-inputs", lambda: Lambda(weighted_sum),
              lambda rng: [_normal(6, 3)(rng), _normal(6, 3)(rng)], (6, 3), trainable_params=0),
    LayerCase("lambda-two-outputs", lambda: Lambda(split_halves, output_shape=[(2,), (3,)]),
              _normal(6, 5), [(6, 2), (6, 3)], trainable_params=0),
    LayerCase("lambda-output-shape-function",
              lambda: Lambda(last_axis_sum, output_shape=last_axis_shape), _normal(6, 4, 3),
              (6, 4, 1), trainable_params=0),
    LayerCase("lambda-mask", lambda: Lambda(mask_probe, mask=keep_mask), _normal(6, 4, 3),
              (6, 4, 3), trainable_params=0, supports_masking=True,
              mask=lambda x: np.abs(x[:, :, 0]) > 0.3, expected_mask=lambda inputs, mask: mask),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


def test_forward_and_gradient_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    w = rng.normal(size=(3, 4))
    layer = Lambda(square_plus_sin, arguments={"scale": 0.5})
    np.testing.assert_allclose(np.asarray(layer(np.float32(x))), 0.5 * x ** 2 + np.sin(x),
                               rtol=RTOL, atol=ATOL)
    grad = jax.grad(lambda v: jnp.sum(layer(v) * np.float32(w)))(jnp.float32(x))
    np.testing.assert_allclose(np.asarray(grad), w * (x + np.cos(x)), rtol=RTOL, atol=ATOL)


def test_gradient_flows_through_a_lambda_to_the_layers_before_it():
    rng = np.random.default_rng(1)
    x, kernel = rng.normal(size=(5, 3)), rng.normal(size=(3, 2))
    inp = lm.Input((3,))
    dense = lm.layers.Dense(2, use_bias=False)
    model = lm.Model(inp, Lambda(square_plus_sin)(dense(inp)))
    dense.set_weights([np.float32(kernel)])
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    y = np.zeros((5, 2), np.float32)
    model.train_on_batch(np.float32(x), y)
    h = x @ kernel
    # mse over all entries: d/dkernel = x^T (2 (f(h) - y) / n * f'(h)), f = h^2 + sin h
    grad = x.T @ (2 * (h ** 2 + np.sin(h)) / h.size * (2 * h + np.cos(h)))
    np.testing.assert_allclose(dense.get_weights()[0], kernel - 0.1 * grad, rtol=1e-4, atol=1e-5)


def test_the_function_receives_the_mask_and_the_training_flag():
    x = np.ones((2, 3, 2), np.float32)
    mask = np.array([[1, 0, 1], [0, 1, 1]], bool)
    np.testing.assert_array_equal(np.asarray(Lambda(mask_probe)(x, mask=mask)),
                                  x * mask[..., None])
    layer = Lambda(noisy_when_training)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=True)), x + 1)
    # without a mask function the layer drops masks, as Keras's Lambda
    assert not Lambda(mask_probe).supports_masking


def test_registered_lambda_round_trips_through_model_save_and_load(tmp_path):
    inp = lm.Input((4, 3))
    h = Lambda(square_plus_sin, arguments={"scale": 0.25}, output_shape=(4, 3), name="f")(inp)
    out = lm.layers.Dense(2)(Lambda(mask_probe, mask=keep_mask, name="g")(h))
    model = lm.Model(inp, out)
    path = tmp_path / "lambda.lamina"
    model.save(path)
    loaded = lm.models.load_model(path)
    x = np.random.default_rng(2).normal(size=(2, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    f = loaded.get_layer("f")
    assert f.function is square_plus_sin and f.get_config() == model.get_layer("f").get_config()
    assert loaded.get_layer("g").mask is keep_mask


# -- refusals --------------------------------------------------------------------------------
def test_unregistered_function_cannot_be_saved_and_the_error_says_how_to_register(tmp_path):
    inp = lm.Input((3,))
    model = lm.Model(inp, Lambda(lambda t: t * 2, name="double")(inp))
    np.testing.assert_array_equal(np.asarray(model(np.ones((1, 3), np.float32))), [[2, 2, 2]])
    how_to = (r"(?s)Lambda 'double': its function <function .*<lambda>.* is not registered, so "
              r"the layer cannot be saved \(lamina saves functions by name, never their code\).*"
              r"lamina\.saving\.register_function\(my_function, name=")
    with pytest.raises(ConfigurationError, match=how_to):
        model.get_layer("double").get_config()
    path = tmp_path / "refused.lamina"
    with pytest.raises(ConfigurationError, match=how_to):
        model.save(path)
    assert not path.exists()


def test_unregistered_mask_function_cannot_be_saved():
    layer = Lambda(mask_probe, mask=lambda inputs, mask: mask, name="m")
    with pytest.raises(ConfigurationError, match=r"Lambda 'm': its mask function .* is not "
                                                 r"registered"):
        layer.get_config()


def test_loading_a_config_naming_an_unregistered_function_is_refused():
    config = Lambda(square_plus_sin).get_config()
    config["function"] = "test_lambda.never_registered"
    with pytest.raises(ConfigurationError, match=r"Unknown function "
                                                 r"'test_lambda.never_registered'.*Register it "
                                                 r"with lamina.saving.register_function"):
        Lambda.from_config(config)


def test_arguments_that_are_not_json_cannot_be_saved():
    layer = Lambda(square_plus_sin, arguments={"scale": np.ones(3)}, name="a")
    np.testing.assert_array_equal(np.asarray(layer(np.zeros((1, 3), np.float32))), [[0, 0, 0]])
    with pytest.raises(ConfigurationError, match=r"Lambda 'a': expected `arguments` to hold only "
                                                 r"JSON values"):
        layer.get_config()


def test_a_declared_output_shape_that_disagrees_is_refused():
    with pytest.raises(InputSpecError, match=r"Lambda 's': output_shape declares \(4,\) \(without "
                                             r"the batch axis\), but the function returned "
                                             r"outputs of shape \(3,\)"):
        Lambda(square_plus_sin, output_shape=(4,), name="s")(np.ones((2, 3), np.float32))
    with pytest.raises(InputSpecError, match=r"Lambda 't': output_shape declares \(2, 5, 1\) "
                                             r"\(with the batch axis\)"):
        Lambda(last_axis_sum, output_shape=lambda s: (2, 5, 1), name="t")(
            np.ones((2, 4, 3), np.float32))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"function": 3, "name": "n"}, TypeError, (r"Lambda 'n': expected `function` to be a "
                                              r"callable or the name of a registered "
                                              r"function, received 3 \(of type int\)")),
    ({"function": square_plus_sin, "mask": np.ones(3, bool)}, TypeError, r"`mask`"),
    ({"function": square_plus_sin, "output_shape": "(3,)"}, ConfigurationError,
     r"Unknown function '\(3,\)'"),
    ({"function": square_plus_sin, "output_shape": (3, "x"), "name": "o"}, ValueError,
     r"Lambda 'o': expected `output_shape` to be a shape"),
    ({"function": square_plus_sin, "arguments": [1]}, ValueError,
     r"expected `arguments` to be a dict"),
])
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Lambda(**kwargs)
