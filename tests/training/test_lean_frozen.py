"""Lean frozen training (issue 20): a variable frozen from the start costs no optimizer
slots, and the compiled step computes no gradient for it, while rule 6 (docs/design.md)
keeps holding: entries made once are kept bit for bit while frozen, and a variable trained
for the first time starts from optax's init and then moves as a hand-written optax loop.
"""
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina as lm

ADAM_LR, EPS = 0.01, 1e-7


def data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 4)).astype("float32"),
            rng.normal(size=(n, 1)).astype("float32"))


def entries(trainer):
    """{variable uid: [its per-variable optimizer arrays, in tree order]}."""
    found = {}
    for keypath, leaf in jax.tree_util.tree_flatten_with_path(trainer.opt_state)[0]:
        uid = next((k.key for k in keypath if isinstance(k, jax.tree_util.DictKey)
                    and isinstance(k.key, int)), None)
        if uid is not None:
            found.setdefault(uid, []).append(np.array(leaf))
    return found


def two_layer(frozen_a):
    a = lm.layers.Dense(3, name="a")
    b = lm.layers.Dense(1, name="b")
    model = lm.Sequential([lm.Input((4,)), a, b], name="model")
    a.trainable = not frozen_a
    model.compile(optimizer=lm.optimizers.Adam(ADAM_LR), loss="mse")
    return model, a, b


def uids(layer):
    return {v.uid for v in layer.weights}


def test_a_layer_frozen_from_the_start_has_no_optimizer_entries():
    model, a, b = two_layer(frozen_a=True)
    for seed in range(2):
        model.train_on_batch(*data(seed=seed))
    assert set(entries(model._trainer)) == uids(b)
    assert not uids(a) & set(entries(model._trainer))


def test_a_trained_then_frozen_layer_keeps_its_entries_bit_for_bit():
    model, a, b = two_layer(frozen_a=False)
    for seed in range(2):
        model.train_on_batch(*data(seed=seed))
    before = entries(model._trainer)
    a.trainable = False
    for seed in range(2, 4):
        model.train_on_batch(*data(seed=seed))
    after = entries(model._trainer)
    assert set(after) == uids(a) | uids(b)
    for uid in uids(a):
        assert all(np.array_equal(x, y) for x, y in zip(before[uid], after[uid], strict=True))
    for uid in uids(b):  # the test can tell: the trained layer's moments moved
        assert not all(np.array_equal(x, y) for x, y in zip(before[uid], after[uid],
                                                             strict=True))


def _reference(params, batches, frozen_steps):
    """Plain `optax.adam` over every parameter from the first step; while A is frozen its
    gradient is stopped, so its moments stay exactly zero (optax's init) and it does not
    move, and the shared step count advances with every step."""
    tx = optax.adam(ADAM_LR, b1=0.9, b2=0.999, eps=EPS)
    state = tx.init(params)

    def loss(p, x, y, freeze_a):
        kernel_a, bias_a = p["a"]
        if freeze_a:
            kernel_a, bias_a = jax.lax.stop_gradient(kernel_a), jax.lax.stop_gradient(bias_a)
        hidden = x @ kernel_a + bias_a
        return jnp.mean(jnp.square(hidden @ p["b"][0] + p["b"][1] - y))

    for step, (x, y) in enumerate(batches):
        grads = jax.grad(loss)(params, x, y, step in frozen_steps)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def test_a_layer_trained_for_the_first_time_starts_from_init_and_moves_as_optax():
    model, a, b = two_layer(frozen_a=True)
    init = {"a": tuple(jnp.asarray(w) for w in a.get_weights()),
            "b": tuple(jnp.asarray(w) for w in b.get_weights())}
    batches = [data(seed=10 + i) for i in range(5)]
    for step, batch in enumerate(batches):
        if step == 2:
            assert not uids(a) & set(entries(model._trainer))
            a.trainable = True
        model.train_on_batch(*batch)
    params, state = _reference(init, batches, frozen_steps={0, 1})
    tol = dict(rtol=1e-5, atol=1e-6)  # a jitted step and eager jax round differently
    for name, layer in (("a", a), ("b", b)):
        for got, want in zip(layer.get_weights(), params[name], strict=True):
            np.testing.assert_allclose(got, np.asarray(want), **tol)
    ours = entries(model._trainer)
    for slot in (state[0].mu, state[0].nu):  # optax's per-parameter moments of layer a
        for variable, want in zip(a.weights, slot["a"], strict=True):
            assert any(np.allclose(got, np.asarray(want), **tol) for got in ours[variable.uid])
    assert int(state[0].count) == 5


def _dot_generals(text):
    return len(re.findall(r"stablehlo\.dot_general", text))


@pytest.fixture(scope="module")
def frozen_base():
    """Dense 4-5-6 (frozen by layer flag) -> Dense 7 -> Dense 2 (trained), one step run."""
    lm.reset_names()
    widths = (5, 6, 7, 2)
    layers = [lm.layers.Dense(w, activation="relu" if w != 2 else None) for w in widths]
    model = lm.Sequential([lm.Input((4,)), *layers])
    for layer in layers[:2]:
        layer.trainable = False
    model.compile(optimizer=lm.optimizers.Adam(ADAM_LR), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    model.train_on_batch(x, y)
    return model, layers, x, y


def test_the_compiled_step_computes_no_gradient_and_keeps_no_slot_of_frozen_weights(
        frozen_base):
    model, layers, x, y = frozen_base
    trainer = model._trainer
    plan = trainer._current_plan()
    (step,) = trainer.compiled_steps("train")
    state = plan.state(trainer.opt_state, trainer.metric_state)
    lowered = step.jitted.lower(state._replace(other=None), state.other, x, [y], None)

    def reference(params, frozen, xb, yb):  # the hand-written step's matmuls
        def loss(p):
            h = xb
            for kernel, bias in frozen:
                h = jax.nn.relu(h @ kernel + bias)
            h = jax.nn.relu(h @ p[0][0] + p[0][1])
            return jnp.mean(jnp.square(h @ p[1][0] + p[1][1] - yb))
        return jax.grad(loss)(params)

    weights = [tuple(jnp.asarray(w) for w in layer.get_weights()) for layer in layers]
    want = _dot_generals(jax.jit(reference).lower(weights[2:], weights[:2], x, y).as_text())
    # forward 4 matmuls; backward: 2 kernel gradients + 1 activation gradient (to the first
    # trained layer's input only); a frozen kernel's gradient would add more
    assert want == 7
    assert _dot_generals(lowered.as_text()) == want
    frozen_shapes = {(4, 5), (5,), (5, 6), (6,)}
    out_shapes = [tuple(s.shape) for s in jax.tree_util.tree_leaves(lowered.out_info)]
    assert not frozen_shapes & set(out_shapes), "no frozen weight, gradient or slot leaves"
    opt_shapes = [tuple(np.shape(s)) for s in jax.tree_util.tree_leaves(trainer.opt_state)]
    assert not frozen_shapes & set(opt_shapes)


def test_the_trained_state_is_donated_and_frozen_weights_are_not(frozen_base):
    model, layers, x, y = frozen_base
    frozen_kernel = layers[0].kernel._value
    trained_kernel = layers[3].kernel._value
    model.train_on_batch(x, y)
    assert trained_kernel.is_deleted(), "the trained values' buffers are reused"
    assert not frozen_kernel.is_deleted()
    assert layers[0].kernel._value is frozen_kernel
