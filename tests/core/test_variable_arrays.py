"""Variables behave as arrays (Keras 3's variable surface), eagerly and inside a step.

References: numpy on the same values (the operator table), a hand-written JAX + optax-free
SGD step (a Keras-style layer written with operators trains exactly as it), Keras 3 itself
(a counter assigned in `call` counts under fit as Keras's does). Inside a pure scope every
operator reads the scope's value, never the stored one, and a closed use path still stops
the gradient (docs/design.md rule 4).
"""
import operator

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.core import scope as scope_lib
from lamina.errors import ArgumentTypeError, UsageError
from lamina.training import step as step_lib

A = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]], "float32")
B = np.array([[2.0, 1.0, -0.5], [3.0, -2.0, 2.5]], "float32")
M = np.array([[1.0], [2.0], [-1.0]], "float32")

UNARY = [operator.neg, operator.pos, operator.abs, np.round]
BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge,
          operator.eq, operator.ne]


def _pow_safe(op, x):
    return np.abs(x) if op is operator.pow else x


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_binary_and_reflected_operators_match_numpy(op):
    v = lm.Variable(_pow_safe(op, A), "v")
    other = _pow_safe(op, B) if op is not operator.pow else np.float32(1.5)
    np.testing.assert_allclose(op(v, other), op(_pow_safe(op, A), other), rtol=1e-6)
    np.testing.assert_allclose(op(other, v), op(other, _pow_safe(op, A)), rtol=1e-6)
    w = lm.Variable(B, "w")  # variable with variable
    if op is not operator.pow:
        np.testing.assert_allclose(op(v, w), op(A, B), rtol=1e-6)
    assert isinstance(op(v, other), jax.Array)  # a jax result, also for numpy on the left
    assert isinstance(op(other, v), jax.Array)


def test_unary_matmul_and_logical_operators_match_numpy():
    v, m = lm.Variable(A, "v"), lm.Variable(M, "m")
    for op in UNARY:
        np.testing.assert_allclose(op(v), op(A))
    np.testing.assert_allclose(v @ M, A @ M, rtol=1e-6)
    np.testing.assert_allclose(A @ m, A @ M, rtol=1e-6)
    flags = lm.Variable(np.array([True, False, True]), "flags")
    other = np.array([True, True, False])
    for op, ref in [(operator.and_, np.logical_and), (operator.or_, np.logical_or),
                    (operator.xor, np.logical_xor)]:
        np.testing.assert_array_equal(op(flags, other), ref(flags.numpy(), other))
        np.testing.assert_array_equal(op(other, flags), ref(other, flags.numpy()))
    np.testing.assert_array_equal(~flags, ~flags.numpy())


def test_array_protocols_attributes_and_jnp_functions():
    v = lm.Variable(A, "v")
    assert (v.shape, v.dtype, v.ndim, v.size, len(v)) == ((2, 3), np.float32, 2, 6, 2)
    np.testing.assert_array_equal(np.asarray(v), A)
    np.testing.assert_array_equal(v.numpy(), A)
    np.testing.assert_array_equal(v[1, ::2], A[1, ::2])
    np.testing.assert_array_equal(np.stack(list(v)), A)
    np.testing.assert_allclose(jnp.matmul(v, M), A @ M, rtol=1e-6)
    np.testing.assert_allclose(jnp.sum(v, axis=0), A.sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(jax.nn.relu(v), np.maximum(A, 0))
    np.testing.assert_allclose(jax.jit(lambda x: x * 2)(v), A * 2)
    np.testing.assert_allclose(jax.grad(lambda x: jnp.sum(x * v))(jnp.ones((2, 3))), A)
    scalar = lm.Variable(np.float32(2.5), "s")
    assert (float(scalar), int(scalar), bool(scalar)) == (2.5, 2, True)
    assert v != "v" and v != None  # noqa: E711 (no array compare with non-arrays)
    assert {v: 1}[v] == 1  # hashable by identity


def test_values_a_variable_cannot_give_raise_lamina_errors():
    v, scalar = lm.Variable(A, "v"), lm.Variable(np.float32(1.0), "s")
    with pytest.raises(ArgumentTypeError, match="'v'.*shape \\(2, 3\\)"):
        float(v)
    with pytest.raises(ArgumentTypeError, match="len\\(\\) of a scalar"):
        len(scalar)

    def step(value):  # inside a compiled step the variable holds a traced value
        with scope_lib.activate(scope_lib.CallScope({scalar.uid: value})):
            return float(scalar)

    with pytest.raises(UsageError, match="'s': float\\(\\) needs a concrete value"):
        jax.jit(step)(1.0)


def test_inside_a_pure_scope_every_use_reads_the_scope_value():
    v = lm.Variable(A, "v", trainable=False)  # a state variable: a step may assign it
    substituted = B
    with scope_lib.activate(scope_lib.CallScope({v.uid: jnp.asarray(substituted)})):
        np.testing.assert_allclose(v + 1, B + 1)
        np.testing.assert_allclose(2 * v, 2 * B)
        np.testing.assert_allclose(jnp.matmul(v, M), B @ M, rtol=1e-6)
        np.testing.assert_allclose(v[0], B[0])
        np.testing.assert_array_equal(v > 0, B > 0)
        np.testing.assert_allclose(np.asarray(v), B)
        new = v.assign_add(np.ones((2, 3), "float32"))
        np.testing.assert_allclose(new, B + 1)
        np.testing.assert_allclose(v.value, B + 1)  # an earlier update is read back
    np.testing.assert_array_equal(v.numpy(), A)  # the stored value is untouched


def test_eager_assign_family_returns_and_stores_like_keras():
    keras = pytest.importorskip("keras")
    ours, theirs = lm.Variable(A, "v"), keras.Variable(A)
    for name, arg in [("assign", B), ("assign_add", A), ("assign_sub", B)]:
        got, want = getattr(ours, name)(arg), getattr(theirs, name)(arg)
        np.testing.assert_allclose(got, np.asarray(jnp.asarray(want)))
        np.testing.assert_allclose(ours.numpy(), np.asarray(theirs.value))


class Linear(lm.layers.Layer):
    """The Keras guide's layer: weights made by add_weight, used as arrays."""

    def __init__(self, units, use_jnp=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.use_jnp = units, use_jnp

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal")

    def call(self, x):
        if self.use_jnp:
            return jnp.matmul(x, self.w) + self.b
        return x @ self.w + self.b


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    return x, (x @ np.array([[1.0, -1.0], [2.0, 0.5], [0.0, 1.0]], "float32")).astype("float32")


@pytest.mark.parametrize("use_jnp", [False, True], ids=["operators", "jnp"])
def test_keras_style_layer_trains_under_fit_like_a_hand_written_jax_step(use_jnp):
    x, y = _data()
    layer = Linear(2, use_jnp=use_jnp)
    model = lm.Sequential([lm.Input((3,)), layer])
    w, b = jnp.asarray(layer.w.numpy()), jnp.asarray(layer.b.numpy())
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)

    def loss(params):
        w, b = params
        return jnp.mean((x @ w + b - y) ** 2)

    for _ in range(3):
        gw, gb = jax.grad(loss)((w, b))
        w, b = w - 0.1 * gw, b - 0.1 * gb
    np.testing.assert_allclose(layer.w.numpy(), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.b.numpy(), b, rtol=1e-5, atol=1e-6)


def test_frozen_layer_used_through_operators_is_bitwise_frozen_and_a_constant():
    x, y = _data()
    first, second = Linear(4, name="first"), Linear(2, name="second")
    model = lm.Sequential([lm.Input((3,)), first, second])
    model.freeze(first)
    before = [first.w.numpy(), first.b.numpy(), second.w.numpy()]
    values = {v.uid: v.value for v in model.variables}

    def loss(values):
        return jnp.sum(step_lib.apply(model, values, x, True)[0])

    grads = jax.grad(loss)(values)
    assert not np.any(grads[first.w.uid]) and not np.any(grads[first.b.uid])  # rule 4
    assert np.any(grads[second.w.uid])
    model.compile(optimizer=lm.optimizers.Adam(0.1, weight_decay=0.1), loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.array_equal(first.w.numpy(), before[0])
    assert np.array_equal(first.b.numpy(), before[1])
    assert not np.array_equal(second.w.numpy(), before[2])


def _counting_layer(base):
    class Counting(base):
        """Keras guide's `ComputeSum` plus a call counter, assigned with assign_add."""

        def build(self, input_shape):
            self.total = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                         trainable=False)
            self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False)
            self.w = self.add_weight(shape=(input_shape[-1], 1), initializer="ones")

        def call(self, x):
            self.total.assign_add(x.sum(axis=0))
            self.calls.assign_add(1.0)
            return x @ self.w

    return Counting()


def test_assign_add_inside_call_counts_under_fit_as_keras_does():
    keras = pytest.importorskip("keras")
    x, _ = _data()
    y = x.sum(axis=1, keepdims=True)
    results = []
    for lib in (lm, keras):
        layer = _counting_layer(lib.layers.Layer)
        model = lib.Sequential([lib.Input((3,)), layer])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        results.append((np.asarray(layer.total), float(np.asarray(layer.calls))))
    (ours_total, ours_calls), (keras_total, keras_calls) = results
    assert ours_calls == keras_calls == 2 * 4  # 2 epochs of 4 batches
    np.testing.assert_allclose(ours_total, keras_total, rtol=1e-5)
    np.testing.assert_allclose(ours_total, 2 * x.sum(axis=0), rtol=1e-5)


def test_assigning_a_trainable_weight_inside_a_step_is_an_error():
    class Bad(Linear):
        def call(self, x):
            self.b.assign(self.b + 1.0)
            return super().call(x)

    x, _ = _data()
    layer = Bad(2, name="bad")
    layer(x)  # eagerly the assignment is stored, as in Keras
    with pytest.raises(UsageError, match="'bad/variable_1' trains by its own flag"):
        step_lib.apply(layer, {v.uid: v.value for v in layer.variables}, x, True)
    with pytest.raises(UsageError, match="'bad_2/variable_1' trains by its own flag"):
        lm.Sequential([lm.Input((3,)), Bad(2, name="bad_2")])
