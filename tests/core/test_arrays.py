"""numpy values become jax arrays without compiling anything (lamina.core.arrays).

`jnp.asarray(numpy_array)` compiles an identity program per new shape; building a model,
giving it weights or loading them must not (each such program costs ~20 ms on CPU).
"""
import contextlib

import jax
import jax.numpy as jnp
import numpy as np

import lamina as lm
from lamina.core.arrays import to_array

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def xla_compilations():
    """Yield a list that collects one entry per XLA compilation made inside the block."""
    seen = []

    def listener(event, duration, **kwargs):
        if event == COMPILE_EVENT:
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_the_counter_sees_a_compilation():
    with xla_compilations() as seen:
        jax.jit(lambda a: a * 3 + 1)(np.ones((3, 251), np.float32)).block_until_ready()
    assert len(seen) == 1


def test_numpy_arrays_of_new_shapes_compile_nothing():
    with xla_compilations() as seen:
        arrays = [to_array(np.full((n, 3), n, np.float32)) for n in (211, 223, 227)]
        jax.block_until_ready(arrays)
    assert seen == []
    for n, a in zip((211, 223, 227), arrays, strict=True):
        assert isinstance(a, jax.Array) and a.shape == (n, 3)
        np.testing.assert_array_equal(np.asarray(a), np.full((n, 3), n, np.float32))


def test_dtypes_are_those_of_jnp_asarray():
    cases = [np.zeros((2, 3)), np.zeros(4, np.int64), np.zeros(2, np.float32), np.float64(2.5),
             [1.0, 2.0], [[1, 2]], np.zeros(3, jnp.bfloat16), np.array([True, False])]
    for value in cases:
        expected = jnp.asarray(value)
        got = to_array(value)
        assert (got.dtype, got.shape, got.weak_type) == (expected.dtype, expected.shape,
                                                         expected.weak_type), value
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    assert to_array(np.arange(3.0), jnp.bfloat16).dtype == jnp.bfloat16
    assert to_array([1, 2], "float32").dtype == jnp.float32


def test_python_numbers_keep_their_weak_type():
    # a weak scalar adopts the other operand's dtype: float32 * bfloat16 stays bfloat16
    scalar = to_array(2.0)
    assert scalar.weak_type and scalar.dtype == jnp.float32
    assert (scalar * jnp.ones(2, jnp.bfloat16)).dtype == jnp.bfloat16
    assert to_array(3).dtype == jnp.asarray(3).dtype


def test_jax_arrays_pass_through_and_cast_only_when_asked():
    a = jnp.arange(4.0)
    assert to_array(a) is a
    assert to_array(a, jnp.float32) is a
    assert to_array(a, jnp.int32).dtype == jnp.int32

    @jax.jit
    def traced(x):
        return to_array(x, jnp.float32) * 2

    np.testing.assert_array_equal(np.asarray(traced(jnp.arange(3))), [0.0, 2.0, 4.0])


def test_results_live_on_the_default_device_uncommitted():
    # uncommitted, as jnp.asarray makes them: a later computation may move them
    a = to_array(np.ones(5, np.float32))
    assert a.devices() == {jax.devices()[0]}
    assert a.committed is False


def test_building_setting_and_loading_weights_compile_nothing(tmp_path):
    def model():
        lm.reset_names()  # the second model's layers get the first's names
        return lm.Sequential([lm.Input((131,)), lm.layers.Dense(173, activation="relu"),
                              lm.layers.LayerNormalization(), lm.layers.Dense(7)])

    with xla_compilations() as seen:
        first = model()
        weights = [np.random.default_rng(i).normal(size=w.shape) for i, w in
                   enumerate(first.get_weights())]  # float64: cast to the weights' float32
        first.set_weights(weights)
        first.save_weights(tmp_path / "w.weights.h5")
        second = model()
        second.load_weights(tmp_path / "w.weights.h5")
        jax.block_until_ready([v.value for v in second.weights])
    assert seen == []
    for expected, variable in zip(weights, second.weights, strict=True):
        assert variable.value.dtype == jnp.float32
        np.testing.assert_array_equal(np.asarray(variable.value), expected.astype(np.float32))
