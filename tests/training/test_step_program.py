"""What a compiled train step's program holds (issue 20, time to first step).

Work a step does beyond the hand-written JAX + optax step costs XLA compile time at every
first `fit`. It is pinned here by structure, not by timing (`benchmarks/first_step.py
--diagnose` measures the times):

- the losses on probabilities clip every prediction; their clip has `jnp.clip`'s derivative
  bit for bit, selected without the quotient of two selects JAX differentiates `clip` into;
- a single-output model's per-output loss tracker, which no log reads, is not updated.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.losses.base import EPSILON, clip

LOW, HIGH = EPSILON, 1.0 - EPSILON


def edge_values(dtype):
    """Values below, at, between and above the bounds (the ties included), NaN and infinities."""
    low, high = np.asarray(LOW, dtype), np.asarray(HIGH, dtype)
    values = [-np.inf, -1.0, 0.0, low / 2, low, np.nextafter(low, dtype(1)), 0.5,
              np.nextafter(high, dtype(0)), high, 1.0, 2.0, np.inf, np.nan]
    return jnp.asarray(np.asarray(values, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_clip_equals_jnp_clip_in_value_and_derivatives_bit_for_bit(dtype):
    x = edge_values(dtype)
    weights = jnp.asarray(np.linspace(-3, 3, x.size), dtype)

    def total(fn):
        return lambda v: jnp.sum(weights * fn(v, LOW, HIGH))

    np.testing.assert_array_equal(clip(x, LOW, HIGH), jnp.clip(x, LOW, HIGH))
    np.testing.assert_array_equal(jax.grad(total(clip))(x), jax.grad(total(jnp.clip))(x))
    ours = jax.jvp(lambda v: clip(v, LOW, HIGH), (x,), (weights,))
    theirs = jax.jvp(lambda v: jnp.clip(v, LOW, HIGH), (x,), (weights,))
    for got, want in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(got, want)
    assert clip(x, LOW, HIGH).dtype == x.dtype


def _quotients_of_selects(jaxpr, shape):
    """`div` equations of `jaxpr` (nested ones included) of result `shape` whose operands are
    both `select_n` results: the form of JAX's derivative of `jnp.clip`."""
    selected = {id(v) for e in jaxpr.eqns if e.primitive.name == "select_n" for v in e.outvars}
    found = sum(e.primitive.name == "div" and tuple(e.outvars[0].aval.shape) == shape
                and all(id(v) in selected for v in e.invars) for e in jaxpr.eqns)
    for eqn in jaxpr.eqns:
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", param)
            if hasattr(inner, "eqns"):
                found += _quotients_of_selects(inner, shape)
    return found


def test_the_clip_derivative_divides_nothing():
    x = edge_values(np.float32)
    ours = jax.make_jaxpr(jax.grad(lambda v: jnp.sum(clip(v, LOW, HIGH))))(x)
    assert not [e for e in ours.jaxpr.eqns if e.primitive.name == "div"]
    theirs = jax.make_jaxpr(jax.grad(lambda v: jnp.sum(jnp.clip(v, LOW, HIGH))))(x)
    assert _quotients_of_selects(theirs.jaxpr, x.shape) == 2  # what the check below sees


@pytest.fixture(scope="module")
def probability_step():
    """A W2-shaped model (a frozen Dense base, a softmax head, sparse cross-entropy on the
    probabilities) after two fitted batches, and its compiled train step traced again."""
    lm.reset_names()
    base = lm.layers.Dense(5, activation="relu")
    base.trainable = False
    model = lm.Sequential([lm.Input((4,)), base, lm.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=lm.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.integers(0, 3, 16).astype("int32")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    trainer = model._trainer
    (step,) = trainer.compiled_steps("train")
    state = trainer._current_plan().state(trainer.opt_state, trainer.metric_state)
    traced = step.jitted.trace(state._replace(other=None), state.other, x[:8], [y[:8]], None)
    return model, x, y, history, traced


def test_the_step_of_a_probability_loss_has_no_clip_quotient(probability_step):
    *_, traced = probability_step
    assert _quotients_of_selects(traced.jaxpr.jaxpr, (8, 3)) == 0  # the predictions' shape


def test_a_single_output_step_leaves_its_per_output_tracker_alone(probability_step):
    model, *_, traced = probability_step
    (tracker,) = model._trainer.metric_state["output_losses"]
    assert [float(v) for v in tracker] == [0.0, 0.0]
    # the tracker's two scalars leave the program as they entered it
    inputs = {id(v) for v in traced.jaxpr.jaxpr.invars}
    metrics = jax.tree_util.tree_structure(traced.out_info[0].metrics)
    out_metrics = traced.jaxpr.jaxpr.outvars[-metrics.num_leaves - 1:-1]
    assert sum(id(v) in inputs for v in out_metrics) == 2


def test_a_two_output_step_still_logs_each_output_loss():
    inputs = lm.Input((3,))
    model = lm.Model(inputs, {"a": lm.layers.Dense(2, name="a")(inputs),
                              "b": lm.layers.Dense(1, name="b")(inputs)})
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss={"a": "mse", "b": "mse"})
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = {"a": rng.normal(size=(8, 2)).astype("float32"),
         "b": rng.normal(size=(8, 1)).astype("float32")}
    before = model.predict(x, verbose=0)  # the one step's loss is taken before its update
    logs = model.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    want = {name: float(np.mean((before[name] - y[name]) ** 2)) for name in ("a", "b")}
    for name, value in want.items():
        np.testing.assert_allclose(logs[f"{name}_loss"], [value], rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], [want["a"] + want["b"]], rtol=1e-5)
