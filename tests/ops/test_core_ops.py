"""`lamina.ops` behaviours a value table cannot show: ops taking functions (control flow,
`custom_gradient`, `jvp`, `vectorize`), ops with unspecified or complex results (`empty`,
`eig`), lamina Variables as inputs, tracing under `jax.jit`, the errors for what lamina does
not support, and the two places where lamina follows Keras's documented meaning over a
Keras 3.15.1 jax-backend bug (pooling with `strides=None`, `gaussian_blur` with
`data_format=None`). Each is compared with `keras.ops` where Keras runs it."""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina as lm  # noqa: E402
from lamina import ops  # noqa: E402
from lamina.core.variables import Variable  # noqa: E402
from lamina.errors import ConfigurationError, NotSupportedError  # noqa: E402
from tests.ops.compare import assert_same  # noqa: E402
from tests.ops.inputs import IMG, SPD, X4, F, G, I, S, V  # noqa: E402

COVERED_HERE = {"associative_scan", "cond", "custom_gradient", "eig", "empty", "empty_like",
                "fori_loop", "jvp", "map", "scan", "switch", "vectorize", "vectorized_map",
                "while_loop"}


def both(name, *args, **kwargs):
    """Run `name` in Keras and lamina; assert the same results; return lamina's."""
    expected = getattr(keras.ops, name)(*args, **kwargs)
    got = getattr(ops, name)(*args, **kwargs)
    assert_same(name, expected, got)
    return got


def test_lamina_exports_ops():
    assert lm.ops is ops


def test_control_flow_matches_keras():
    both("cond", True, lambda: jnp.ones(2), lambda: jnp.zeros(2))
    both("switch", 1, [lambda x: x + 1, lambda x: x * 3], jnp.asarray(F))
    both("fori_loop", 0, 4, lambda i, x: x * 2 + i, jnp.asarray(V))
    both("while_loop", lambda x: jnp.sum(x) < 50, lambda x: x * 2, jnp.asarray(np.abs(V) + 1))
    both("while_loop", lambda a, b: a < 10, lambda a, b: (a + 1, b * 2), (0, jnp.asarray(V)))
    both("while_loop", lambda a, b: a < 10, lambda a, b: [a + 1, b * 2], [0, jnp.asarray(V)],
         maximum_iterations=3)
    both("scan", lambda c, x: (c + x, c * x), jnp.zeros(3), jnp.asarray(F))
    both("scan", lambda c, _: (c * 2, c), jnp.ones(2), None, length=4, reverse=True, unroll=2)
    both("map", lambda x: x.sum(), jnp.asarray(F))
    both("associative_scan", jnp.add, jnp.asarray(F), axis=1)
    both("associative_scan", jnp.maximum, jnp.asarray(V), reverse=True)
    both("vectorized_map", lambda x: jnp.dot(x, x), jnp.asarray(F))
    with pytest.raises(ConfigurationError, match="unroll"):
        ops.scan(lambda c, x: (c, x), 0.0, jnp.asarray(V), unroll=0)


def test_control_flow_traces_under_jit():
    @jax.jit
    def run(x):
        y = ops.cond(ops.sum(x) > 0, lambda: ops.relu(x), lambda: ops.negative(x))
        return ops.fori_loop(0, 3, lambda i, v: ops.add(v, i), y)

    np.testing.assert_allclose(run(F), np.where(F.sum() > 0, np.maximum(F, 0), -F) + 3,
                               rtol=1e-6)


def test_custom_gradient_and_jvp_match_keras():
    def make(ns):
        @ns.custom_gradient
        def clipped(x):
            return x * 2.0, lambda upstream: ns.clip(upstream, -0.1, 0.1)
        return clipped

    mine = jax.grad(lambda x: jnp.sum(make(ops)(x) ** 2))(jnp.asarray(F))
    theirs = jax.grad(lambda x: jnp.sum(make(keras.ops)(x) ** 2))(jnp.asarray(F))
    assert_same("custom_gradient", theirs, mine)
    args = (jnp.sin, (jnp.asarray(V),), (jnp.ones(5),))
    assert_same("jvp", keras.ops.jvp(*args), ops.jvp(*args))
    assert_same("jvp", keras.ops.jvp(lambda x: (x**2, x), *args[1:], has_aux=True),
                ops.jvp(lambda x: (x**2, x), *args[1:], has_aux=True))


def test_vectorize_empty_and_eig():
    for signature in (None, "(n),(n)->()"):
        assert_same("vectorize", keras.ops.vectorize(jnp.dot, signature=signature)(F, G),
                    ops.vectorize(jnp.dot, signature=signature)(F, G))
    for args in [((2, 3),), ((4,), "int32")]:
        mine, theirs = ops.empty(*args), keras.ops.empty(*args)
        assert (mine.shape, mine.dtype) == (theirs.shape, theirs.dtype)
    mine, theirs = ops.empty_like(I, dtype="float16"), keras.ops.empty_like(I, dtype="float16")
    assert (mine.shape, mine.dtype) == (theirs.shape, theirs.dtype)
    values, vectors = ops.eig(S)
    expected_values, _ = keras.ops.eig(S)
    np.testing.assert_allclose(np.sort_complex(np.asarray(values)),
                               np.sort_complex(np.asarray(expected_values)), rtol=1e-4)
    np.testing.assert_allclose(S @ np.asarray(vectors), np.asarray(vectors) * np.asarray(values),
                               atol=1e-4)


def test_variables_are_accepted_and_read_through_the_scope():
    w = Variable(F, name="w")
    assert_same("matmul", keras.ops.matmul(F, S.T[:3]), ops.matmul(w, S.T[:3]))
    assert ops.shape(w) == (2, 3) and ops.dtype(w) == "float32"
    assert_same("conv", keras.ops.conv(X4, np.ones((1, 1, 3, 2), "float32")),
                ops.conv(Variable(X4, name="x"), Variable(np.ones((1, 1, 3, 2), "float32"),
                                                           name="k")))
    np.testing.assert_array_equal(ops.convert_to_tensor(w), F)
    assert_same("stack", keras.ops.stack([F, F]), ops.stack([w, w]))
    assert_same("concatenate", keras.ops.concatenate([F, F], 1), ops.concatenate([w, w], 1))
    grads = jax.grad(lambda v: ops.sum(ops.stop_gradient(v) * v))(jnp.asarray(F))
    np.testing.assert_allclose(grads, F)


def test_shape_is_a_tuple_and_dtype_rules_for_ints():
    assert ops.shape(np.zeros((2, 1))) == (2, 1) and isinstance(ops.shape(F), tuple)
    assert ops.mean(I).dtype == keras.ops.mean(I).dtype == jnp.float32
    assert ops.convert_to_tensor([1, 2]).dtype == jnp.int32
    assert ops.ones((2,)).dtype == jnp.float32


def test_pooling_default_strides_are_the_pool_size():
    """Keras 3.15.1's jax backend fails with strides=None; Keras documents strides =
    pool_size, which lamina does."""
    for name in ("max_pool", "average_pool"):
        assert_same(name, getattr(keras.ops, name)(X4, 2, strides=2), getattr(ops, name)(X4, 2))


def test_gaussian_blur_default_data_format_is_channels_last():
    """Keras 3.15.1's jax backend reads data_format=None as channels_first here; lamina reads
    None as Keras's default, channels_last."""
    assert_same("gaussian_blur", keras.ops.image.gaussian_blur(IMG, data_format="channels_last"),
                ops.image.gaussian_blur(IMG))


@pytest.mark.parametrize(("call", "error"), [
    (lambda: ops.one_hot(np.array([1]), 3, sparse=True), NotSupportedError),
    (lambda: ops.multi_hot(np.array([1]), 3, sparse=True), NotSupportedError),
    (lambda: ops.bincount(np.array([1]), sparse=True), NotSupportedError),
    (lambda: ops.convert_to_tensor(F, ragged=True), NotSupportedError),
    (lambda: ops.moments(F, 0, synchronized=True), NotSupportedError),
    (lambda: ops.ctc_decode(np.ones((1, 2, 3), "float32"), np.array([2]),
                            strategy="beam_search"), NotSupportedError),
    (lambda: ops.dot_product_attention(X4, X4, X4, attn_logits_soft_cap=1.0), NotSupportedError),
    (lambda: ops.segment_sum(V, np.array([0, 0, 1, 1, 2])), ConfigurationError),
    (lambda: ops.pad(F, 1, mode="edge", constant_values=2), ConfigurationError),
    (lambda: ops.where(F > 0, F), ConfigurationError),
    (lambda: ops.image.resize(IMG, (2, 2), interpolation="area"), ConfigurationError),
    (lambda: ops.conv(X4, np.ones((1, 1, 2, 2), "float32")), lm.errors.InputSpecError),
])
def test_unsupported_arguments_raise_lamina_errors(call, error):
    with pytest.raises(error, match="lamina.ops"):
        call()


def test_linalg_of_a_batch_under_jit():
    run = jax.jit(lambda a: (ops.inv(a), ops.cholesky(a), ops.det(a)))
    inverse, factor, determinant = run(np.stack([SPD, 2 * SPD]))
    np.testing.assert_allclose(inverse[1] @ (2 * SPD), np.eye(3), atol=1e-4)
    np.testing.assert_allclose(factor[0] @ factor[0].T, SPD, rtol=1e-4)
    np.testing.assert_allclose(determinant, np.linalg.det(np.stack([SPD, 2 * SPD])), rtol=1e-4)
