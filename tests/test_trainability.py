"""The trainability contract (docs/design.md section 2), one test (or table) per rule.

Every test trains for real (`train_on_batch` / `fit`) and compares weights bit for bit
(`np.array_equal` on numpy copies from `get_weights()`), or against a hand-written JAX /
optax computation of the same step.
"""
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina as lm

LR = 0.1
# Every model uses inputs of width 4, hidden layers of width 3 and one output, so that the
# few kernel shapes are initialised (and compiled for) once per test session.


# -- helpers ------------------------------------------------------------------------------
def data(n=8, d_in=4, d_out=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d_in)).astype("float32")
    y = rng.normal(size=(n, d_out)).astype("float32")
    return x, y


def snap(layer):
    """Numpy copies of a layer's (or model's) weights."""
    return [np.array(w) for w in layer.get_weights()]


def unchanged(before, after):
    """Bit-for-bit equal, every array."""
    assert len(before) == len(after)
    return all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def all_changed(before, after):
    """Every array differs in at least one entry."""
    assert len(before) == len(after)
    return all(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def var_snap(model):
    """{variable uid: numpy copy} for every weight of `model`."""
    return {v.uid: np.array(v.value) for v in model.weights}


def changed_uids(before, after):
    return {uid for uid in before if not np.array_equal(before[uid], after[uid])}


def sgd(lr=LR, momentum=0.0):
    return lm.optimizers.SGD(learning_rate=lr, momentum=momentum)


def mse(pred, y):
    return jnp.mean(jnp.square(pred - y))


def dense(params, x, activation=None):
    kernel, bias = params
    out = x @ kernel + bias
    return activation(out) if activation is not None else out


def shared_models():
    """The shared-layer scenario of the brief: two functional models sharing `shared`."""
    inp = lm.Input((4,))
    shared = lm.layers.Dense(3, name="shared")
    head1 = lm.layers.Dense(1, name="head1")
    model1 = lm.Model(inp, head1(shared(inp)), name="model1")
    inp2 = lm.Input((4,))
    head2 = lm.layers.Dense(1, name="head2")
    model2 = lm.Model(inp2, head2(shared(inp2)), name="model2")
    return model1, model2, shared, head1, head2


# compile order both ways for one configuration; and the flag set after compile and steps
SHARED_CASES = [("forward", "before_compile"), ("reverse", "before_compile"),
                ("reverse", "after_a_step")]


def compile_in_order(models, order):
    for model in (models if order == "forward" else list(reversed(models))):
        model.compile(optimizer=sgd(), loss="mse")


# -- rule 1: own flags, gates that restore -------------------------------------------------
def test_rule1_flag_changes_only_its_own_object():
    inner = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3, name="a"),
                           lm.layers.Dense(3, name="b")], name="inner")
    inp = lm.Input((4,))
    outer = lm.Model(inp, lm.layers.Dense(1, name="head")(inner(inp)), name="outer")
    outer.trainable = False
    assert outer.trainable is False
    assert inner.trainable is True
    assert [layer.trainable for layer in inner.layers] == [True, True]
    assert all(v.trainable for v in outer.weights)
    inner.layers[0].kernel.trainable = False
    assert inner.layers[0].kernel.trainable is False
    assert inner.layers[0].bias.trainable is True
    assert inner.layers[0].trainable is True


@pytest.mark.parametrize("gate", ["outer", "inner"])
def test_rule1_nested_gate_restores_individual_flags(gate):
    inner = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3, name="a"),
                           lm.layers.Dense(3, name="b")], name="inner")
    a, b = inner.layers
    b.trainable = False
    inp = lm.Input((4,))
    head = lm.layers.Dense(1, name="head")
    outer = lm.Model(inp, head(inner(inp)), name="outer")
    outer.compile(optimizer=sgd(), loss="mse")
    x, y = data()

    flags_before = [layer.trainable for layer in inner.layers]
    assert flags_before == [True, False]
    trainable_before = [v.path for v in outer.trainable_weights]
    before = var_snap(outer)
    outer.train_on_batch(x, y)
    trained_before = changed_uids(before, var_snap(outer))
    assert trained_before == {v.uid for v in a.weights + head.weights}

    gated = outer if gate == "outer" else inner
    gated.trainable = False
    assert [layer.trainable for layer in inner.layers] == [True, False]
    before = var_snap(outer)
    if gate == "outer":
        with pytest.raises(lm.NotTrainableError):
            outer.train_on_batch(x, y)
        assert changed_uids(before, var_snap(outer)) == set()
    else:
        outer.train_on_batch(x, y)
        assert changed_uids(before, var_snap(outer)) == {v.uid for v in head.weights}

    gated.trainable = True
    assert gated.trainable is True
    assert [layer.trainable for layer in inner.layers] == flags_before
    assert [v.path for v in outer.trainable_weights] == trainable_before
    before = var_snap(outer)
    outer.train_on_batch(x, y)
    assert changed_uids(before, var_snap(outer)) == trained_before


# -- rules 1-3 with a shared layer, independent of compile order ---------------------------
@pytest.mark.parametrize("order, when", SHARED_CASES)
def test_shared_layer_model_gate_does_not_reach_other_model(order, when):
    model1, model2, shared, head1, head2 = shared_models()
    x, y = data()
    if when == "before_compile":
        model1.trainable = False
    compile_in_order([model1, model2], order)
    if when == "after_a_step":
        model1.train_on_batch(x, y)
        model2.train_on_batch(x, y)
        model1.trainable = False

    assert shared.trainable is True
    assert model1.layers[1] is shared
    assert model1.trainable_weights == []

    s0, h0 = snap(shared), snap(head2)
    model2.train_on_batch(x, y)
    assert all_changed(s0, snap(shared)), "model2 must still train the shared layer"
    assert all_changed(h0, snap(head2))
    assert shared.trainable is True

    s0, h0 = snap(shared), snap(head1)
    with pytest.raises(lm.NotTrainableError) as info:
        model1.train_on_batch(x, y)
    text = str(info.value)
    assert "'model1.trainable' is False" in text
    assert "freeze" in text
    assert unchanged(s0, snap(shared)) and unchanged(h0, snap(head1))


@pytest.mark.parametrize("order, when", SHARED_CASES)
def test_shared_layer_own_flag_freezes_it_everywhere(order, when):
    model1, model2, shared, head1, head2 = shared_models()
    x, y = data()
    if when == "before_compile":
        model1.layers[1].trainable = False
    compile_in_order([model1, model2], order)
    if when == "after_a_step":
        model2.train_on_batch(x, y)
        model1.train_on_batch(x, y)
        model1.layers[1].trainable = False

    assert shared.trainable is False
    assert model1.trainable is True and model2.trainable is True
    s0, h0 = snap(shared), snap(head2)
    model2.train_on_batch(x, y)
    assert unchanged(s0, snap(shared))
    assert all_changed(h0, snap(head2))

    h0 = snap(head1)
    model1.train_on_batch(x, y)
    assert unchanged(s0, snap(shared))
    assert all_changed(h0, snap(head1))


# -- rule 2: scoped freeze (GAN) ----------------------------------------------------------
def gan():
    G = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3, activation="tanh"),
                       lm.layers.Dense(3)], name="G")
    D = lm.Sequential([lm.Input((3,)), lm.layers.Dense(3, activation="tanh"),
                       lm.layers.Dense(1)], name="D")
    z = lm.Input((4,))
    combined = lm.Model(z, D(G(z)), name="combined")
    return G, D, combined


def all_flags(model):
    return ([model.trainable] + [layer.trainable for layer in model.layers]
            + [v.trainable for v in model.weights])


def test_rule2_scoped_freeze_gan():
    G, D, combined = gan()
    combined.freeze(D)
    loss = lm.losses.BinaryCrossentropy(from_logits=True)
    combined.compile(optimizer=sgd(), loss=loss)  # compiled before D: order does not matter
    D.compile(optimizer=sgd(), loss=loss)
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(8, 3)).astype("float32")
    labels = (rng.random((8, 1)) > 0.5).astype("float32")
    noise = rng.normal(size=(8, 4)).astype("float32")
    ones = np.ones((8, 1), "float32")

    for _ in range(2):
        d0, g0 = snap(D), snap(G)
        D.train_on_batch(samples, labels)
        assert all_changed(d0, snap(D)), "D trains on its own"
        assert unchanged(g0, snap(G))

        d0, g0 = snap(D), snap(G)
        combined.train_on_batch(noise, ones)
        assert all_changed(g0, snap(G)), "G trains through the frozen D"
        assert unchanged(d0, snap(D)), "D is bit-for-bit unchanged by the combined step"
        assert all(all_flags(D)), "no flag was toggled"

    assert {v.uid for v in combined.trainable_weights} == {v.uid for v in G.weights}
    assert {v.uid for v in D.trainable_weights} == {v.uid for v in D.weights}

    combined.unfreeze(D)
    d0, g0 = snap(D), snap(G)
    combined.train_on_batch(noise, ones)
    assert all_changed(d0, snap(D))
    assert all_changed(g0, snap(G))


def test_rule2_freeze_of_a_layer_outside_the_model_raises():
    model = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3, name="inside")], name="mymodel")
    other = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3, name="stranger")], name="other")
    for stranger in (lm.layers.Dense(3, name="unused"), other.layers[0]):
        with pytest.raises(ValueError) as info:
            model.freeze(stranger)
        assert "mymodel" in str(info.value) and stranger.name in str(info.value)
    assert model.frozen_layers == []


# -- rule 3 / 4: open and closed paths, gradients through frozen layers -------------------
def test_rule4_gradient_flows_through_frozen_middle_layer():
    first = lm.layers.Dense(3, activation="tanh", name="first")
    middle = lm.layers.Dense(3, activation="tanh", name="middle")
    last = lm.layers.Dense(1, name="last")
    model = lm.Sequential([lm.Input((4,)), first, middle, last])
    middle.trainable = False
    model.compile(optimizer=sgd(), loss="mse")
    x, y = data()
    p_first, p_mid, p_last = snap(first), snap(middle), snap(last)

    def loss_fn(pf, pl):
        h = dense(pf, x, jnp.tanh)
        h = dense(p_mid, h, jnp.tanh)
        return mse(dense(pl, h), y)

    g_first, g_last = jax.jit(jax.grad(loss_fn, argnums=(0, 1)))(p_first, p_last)
    model.train_on_batch(x, y)

    assert unchanged(p_mid, snap(middle))
    assert all_changed(p_first, snap(first))
    assert all_changed(p_last, snap(last))
    for new, old, g in zip(snap(first) + snap(last), p_first + p_last,
                           list(g_first) + list(g_last), strict=True):
        assert np.any(np.asarray(g) != 0)
        np.testing.assert_allclose(new, old - LR * np.asarray(g), rtol=1e-6, atol=1e-7)


def test_rule3_4_shared_layer_reached_by_open_and_closed_path_in_one_model():
    shared = lm.layers.Dense(3, name="shared")
    i = lm.Input((4,))
    sub = lm.Model(i, shared(i), name="sub")
    inp = lm.Input((4,))
    head = lm.layers.Dense(1, name="head")
    root = lm.Model(inp, head(lm.layers.Add()([shared(inp), sub(inp)])), name="root")
    sub.trainable = False  # closes root > sub > shared; root > shared stays open
    root.compile(optimizer=sgd(), loss="mse")
    x, y = data()
    p_shared, p_head = snap(shared), snap(head)

    def loss_fn(ps, ph):
        direct = dense(ps, x)
        through_sub = jax.lax.stop_gradient(dense(ps, x))  # closed path: a constant
        return mse(dense(ph, direct + through_sub), y)

    g_shared, g_head = jax.jit(jax.grad(loss_fn, argnums=(0, 1)))(p_shared, p_head)
    assert {v.uid for v in root.trainable_weights} == {v.uid for v in shared.weights + head.weights}
    report = root.explain()
    assert report.why(shared.kernel).trained and report.why("shared/bias").trained

    root.train_on_batch(x, y)
    for new, old, g in zip(snap(shared) + snap(head), p_shared + p_head,
                           list(g_shared) + list(g_head), strict=True):
        np.testing.assert_allclose(new, old - LR * np.asarray(g), rtol=1e-6, atol=1e-7)


# -- rule 5: live changes, one compilation per configuration ------------------------------
class CountingDense(lm.layers.Dense):
    calls = 0

    def call(self, inputs):
        type(self).calls += 1
        return super().call(inputs)


@pytest.mark.parametrize("how", ["flag", "model_gate"])
def test_rule5_live_toggle_and_one_compile_per_configuration(how):
    a = CountingDense(3, name="a")
    b = lm.layers.Dense(1, name="b")
    inner = lm.Sequential([lm.Input((4,)), a], name="inner")
    inp = lm.Input((4,))
    model = lm.Model(inp, b(inner(inp)), name="model")
    model.compile(optimizer=sgd(momentum=0.9), loss="mse")
    x, y = data()

    def set_frozen(frozen):
        if how == "flag":
            a.trainable = not frozen
        else:
            inner.trainable = not frozen

    CountingDense.calls = 0
    model.train_on_batch(x, y)  # warm: configuration "open" traced once
    calls_after_first = CountingDense.calls
    assert calls_after_first >= 1
    for frozen in [True, False, True, False, True, False]:
        set_frozen(frozen)
        a0, b0 = snap(a), snap(b)
        model.train_on_batch(x, y)
        assert all_changed(b0, snap(b))
        if frozen:
            assert unchanged(a0, snap(a)), "the very next step honours the freeze"
        else:
            assert all_changed(a0, snap(a)), "the very next step honours the unfreeze"
    # two configurations, each traced once: one more trace than after the first step
    assert CountingDense.calls == 2 * calls_after_first
    assert len(model._trainer.compiled_steps("train")) == 2


# -- rule 6: frozen is bit-for-bit frozen; optimizer state kept ---------------------------
@pytest.mark.parametrize("optimizer, how", [
    ("adamw", "layer_flag"), ("adamw", "variable_flag"), ("sgd_momentum", "scoped_freeze")])
def test_rule6_frozen_is_bitwise_unchanged_under_decay_and_momentum(optimizer, how):
    a = lm.layers.Dense(3, name="a")
    b = lm.layers.Dense(1, name="b")
    model = lm.Sequential([lm.Input((4,)), a, b], name="model")
    opt = (lm.optimizers.AdamW(weight_decay=0.1) if optimizer == "adamw"
           else lm.optimizers.SGD(0.1, momentum=0.9))
    model.compile(optimizer=opt, loss="mse")
    x, y = data()
    for _ in range(3):  # build momentum / moments for everything
        model.train_on_batch(x, y)
    if how == "layer_flag":
        a.trainable = False
    elif how == "scoped_freeze":
        model.freeze(a)
    else:
        a.kernel.trainable = False
    kernel0, bias0, b0 = np.array(a.kernel.value), np.array(a.bias.value), snap(b)
    x, y = data(n=24, seed=13)
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # six steps
    assert len(history.history["loss"]) == 2
    assert np.array_equal(kernel0, np.array(a.kernel.value)), "no decay, no momentum drift"
    if how == "variable_flag":
        assert not np.array_equal(bias0, np.array(a.bias.value))
    else:
        assert np.array_equal(bias0, np.array(a.bias.value))
    assert all_changed(b0, snap(b))


def _two_layer_loss(p, x, y):
    return mse(dense(p["B"], dense(p["A"], x)), y)


_two_layer_grad = jax.jit(jax.grad(_two_layer_loss))
_SGD_MOMENTUM = optax.sgd(LR, momentum=0.9)


@jax.jit
def _sgd_momentum_step(grads, state, params):
    updates, state = _SGD_MOMENTUM.update(grads, state, params)
    return optax.apply_updates(params, updates), state


def _hand_trajectory(optimizer, params, batches, frozen_steps, keep_state=True):
    """Hand-computed training of Dense(3) -> Dense(1) (mse), layer A frozen in `frozen_steps`.

    params = {"A": (kernel, bias), "B": (kernel, bias)}. While A is frozen only B's
    per-variable optimizer entries change; a shared step count (Adam's bias correction)
    advances with every step of the root. With keep_state=False A's entries restart from
    zero when it is unfrozen (what a recompile would do), to show the test can tell.
    """
    params = {k: tuple(jnp.asarray(p) for p in v) for k, v in params.items()}
    b1, b2, eps, adam_lr = 0.9, 0.999, 1e-7, 0.01

    def fresh(name):
        if optimizer == "sgd_momentum":
            return _SGD_MOMENTUM.init(params[name])
        zeros = tuple(np.zeros(p.shape, np.float32) for p in params[name])
        return (zeros, zeros)

    state = {name: fresh(name) for name in params}
    count, was_frozen = 0, False
    for step, (x, y) in enumerate(batches):
        grads = _two_layer_grad(params, x, y)
        count += 1
        frozen = step in frozen_steps
        if was_frozen and not frozen and not keep_state:
            state["A"] = fresh("A")
        was_frozen = frozen
        for name in (["B"] if frozen else ["A", "B"]):
            if optimizer == "sgd_momentum":
                params[name], state[name] = _sgd_momentum_step(grads[name], state[name],
                                                               params[name])
                continue
            g = [np.asarray(gi) for gi in grads[name]]
            mu = tuple(b1 * m + (1 - b1) * gi for m, gi in zip(state[name][0], g, strict=True))
            nu = tuple(b2 * n + (1 - b2) * gi * gi for n, gi in zip(state[name][1], g, strict=True))
            state[name] = (mu, nu)
            params[name] = tuple(
                np.asarray(p) - adam_lr * (m / (1 - b1 ** count))
                / (np.sqrt(n / (1 - b2 ** count)) + eps)
                for p, m, n in zip(params[name], mu, nu, strict=True))
    return params


@pytest.mark.parametrize("optimizer, how", [("sgd_momentum", "layer_flag"),
                                            ("adam", "scoped_freeze")])
def test_rule6_optimizer_state_kept_across_freeze_unfreeze(optimizer, how):
    A = lm.layers.Dense(3, name="A")
    B = lm.layers.Dense(1, name="B")
    model = lm.Sequential([lm.Input((4,)), A, B], name="model")
    opt = (lm.optimizers.SGD(learning_rate=0.1, momentum=0.9) if optimizer == "sgd_momentum"
           else lm.optimizers.Adam(learning_rate=0.01))
    model.compile(optimizer=opt, loss="mse")
    batches = [data(seed=20 + i) for i in range(6)]
    init = {"A": tuple(snap(A)), "B": tuple(snap(B))}

    for step, (x, y) in enumerate(batches):
        if step == 2:
            if how == "layer_flag":
                A.trainable = False
            else:
                model.freeze(A)
        if step == 4:
            if how == "layer_flag":
                A.trainable = True
            else:
                model.unfreeze(A)
        a0 = snap(A)
        model.train_on_batch(x, y)
        if step in (2, 3):
            assert unchanged(a0, snap(A))

    # float32 over six steps: a jitted XLA step and eager jax round differently (observed
    # up to ~7e-6 relative, 3e-7 absolute); a reset of A's state moves A by 1e-2 .. 0.7.
    tol = dict(rtol=1e-5, atol=1e-6)
    expected = _hand_trajectory(optimizer, init, batches, frozen_steps={2, 3})
    for name, layer in (("A", A), ("B", B)):
        for got, want in zip(snap(layer), expected[name], strict=True):
            np.testing.assert_allclose(got, np.asarray(want), **tol)
    reset = _hand_trajectory(optimizer, init, batches, frozen_steps={2, 3}, keep_state=False)
    assert not all(np.allclose(got, np.asarray(want), **tol)
                   for got, want in zip(snap(A), reset["A"], strict=True)), \
        "test must distinguish reset state"


# -- rule 7: frozen BatchNormalization ----------------------------------------------------
def bn_model(**bn_kwargs):
    d = lm.layers.Dense(3, name="d")
    bn = lm.layers.BatchNormalization(name="bn", **bn_kwargs)
    h = lm.layers.Dense(1, name="h")
    model = lm.Sequential([lm.Input((4,)), d, bn, h], name="model")
    return model, d, bn, h


def moving(bn):
    return [np.array(bn.moving_mean.value), np.array(bn.moving_variance.value)]


def gamma_beta(bn):
    return [np.array(bn.gamma.value), np.array(bn.beta.value)]


@pytest.mark.parametrize("how", ["flag", "scoped_freeze", "none", "train_when_frozen"])
def test_rule7_frozen_batchnorm_runs_in_inference_mode(how):
    model, d, bn, h = bn_model(train_when_frozen=how == "train_when_frozen")
    if how in ("flag", "train_when_frozen"):
        bn.trainable = False
    elif how == "scoped_freeze":
        model.freeze(bn)
    model.compile(optimizer=sgd(), loss="mse")
    x, y = data()
    x = x * 3.0 + 2.0  # batch statistics far from the initial moving statistics
    stats0, gb0 = moving(bn), gamma_beta(bn)
    inference_loss = float(np.mean((np.asarray(model.predict(x, verbose=0)) - y) ** 2))
    train_loss = model.train_on_batch(x, y)
    if how == "none":
        assert all_changed(stats0, moving(bn))
        assert all_changed(gb0, gamma_beta(bn))
        assert not np.isclose(train_loss, inference_loss, rtol=1e-3)
    elif how == "train_when_frozen":  # the explicit per-layer setting: batch statistics
        assert all_changed(stats0, moving(bn))
        assert unchanged(gb0, gamma_beta(bn))
        assert not np.isclose(train_loss, inference_loss, rtol=1e-3)
    else:
        assert unchanged(stats0, moving(bn))
        assert unchanged(gb0, gamma_beta(bn))
        np.testing.assert_allclose(train_loss, inference_loss, rtol=1e-5)


class BNNet(lm.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d = lm.layers.Dense(3, name="d")
        self.bn = lm.layers.BatchNormalization(name="bn")
        self.h = lm.layers.Dense(1, name="h")

    def call(self, inputs, training=None):
        return self.h(self.bn(self.d(inputs), training=True))


def bn_functional_explicit():
    """Functional twin of BNNet: `training=True` passed to the BN call in the graph."""
    inp = lm.Input((4,))
    d = lm.layers.Dense(3, name="d")
    bn = lm.layers.BatchNormalization(name="bn")
    h = lm.layers.Dense(1, name="h")
    net = lm.Model(inp, h(bn(d(inp), training=True)), name="net")
    net.d, net.bn, net.h = d, bn, h
    return net


@pytest.mark.parametrize("how, kind", [("flag", "subclassed"), ("scoped_freeze", "subclassed"),
                                       ("flag", "functional")])
def test_rule7_explicit_training_argument_wins(how, kind):
    net = BNNet(name="net") if kind == "subclassed" else bn_functional_explicit()
    x, y = data()
    x = x * 3.0 + 2.0
    net(x)  # build
    if how == "flag":
        net.bn.trainable = False
    else:
        net.freeze(net.bn)
    net.compile(optimizer=sgd(), loss="mse")
    stats0, gb0, d0 = moving(net.bn), gamma_beta(net.bn), snap(net.d)
    net.train_on_batch(x, y)
    assert all_changed(stats0, moving(net.bn)), "explicit training=True updates the statistics"
    assert unchanged(gb0, gamma_beta(net.bn)), "gamma/beta stay frozen"
    assert all_changed(d0, snap(net.d))


# -- rule 8: one source of truth for counts; the empty-resolution error -------------------
def summary_counts(model):
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)

    def count(label):
        match = re.search(rf"^{label}: ([\d,]+)", text, re.M)
        assert match, f"no '{label}' line in summary:\n{text}"
        return int(match.group(1).replace(",", ""))

    return count("Total params"), count("Trainable params"), count("Non-trainable params")


def nested_model():
    a = lm.layers.Dense(3, name="a")
    b = lm.layers.Dense(3, name="b")
    inner = lm.Sequential([lm.Input((4,)), a, b], name="inner")
    inp = lm.Input((4,))
    c = lm.layers.Dense(3, name="c")
    head = lm.layers.Dense(1, name="head")
    model = lm.Model(inp, head(c(inner(inp))), name="outer")
    return model, dict(a=a, b=b, inner=inner, c=c, head=head, outer=model)


CONFIGS = {
    "all": lambda m: None,
    "layer_flag": lambda m: setattr(m["a"], "trainable", False),
    "scoped_freeze": lambda m: m["outer"].freeze(m["b"], m["c"]),
    "nested_scoped_freeze": lambda m: m["inner"].freeze(m["a"]),  # binds the outer root too
    "variable_flag": lambda m: setattr(m["head"].kernel, "trainable", False),
    "mixed": lambda m: (setattr(m["inner"], "trainable", False),
                        setattr(m["c"].bias, "trainable", False)),
}


def test_rule8_counts_equal_what_the_next_step_changes():
    """One model, several configurations applied in turn (each after compile and steps)."""
    model, parts = nested_model()
    model.compile(optimizer=sgd(), loss="mse")
    x, y = data()
    model.train_on_batch(x, y)
    size = lambda vs: int(sum(np.prod(v.shape) for v in vs))  # noqa: E731

    for config, apply in CONFIGS.items():
        for obj in parts.values():  # back to "everything trainable"
            obj.trainable = True
            for v in obj.weights:
                v.trainable = True
        model.unfreeze()
        parts["inner"].unfreeze()
        apply(parts)

        trainable = {v.uid for v in model.trainable_weights}
        non_trainable = {v.uid for v in model.non_trainable_weights}
        weights = {v.uid for v in model.weights}
        assert trainable | non_trainable == weights and not trainable & non_trainable, config
        assert trainable, config

        before = var_snap(model)
        model.train_on_batch(x, y)
        assert changed_uids(before, var_snap(model)) == trainable, config

        total, n_trainable, n_frozen = summary_counts(model)
        assert n_trainable == size(model.trainable_weights), config
        assert n_frozen == size(model.non_trainable_weights), config
        assert total == n_trainable + n_frozen == size(model.weights) == model.count_params()
        report = model.explain()
        assert {row.variable.uid for row in report if row.trained} == trainable, config


def test_rule8_keras2_gan_recipe_raises_not_trainable_error():
    G = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3), lm.layers.Dense(3)], name="G")
    D = lm.Sequential([lm.Input((3,)), lm.layers.Dense(3), lm.layers.Dense(1)], name="D")
    D.trainable = False  # the Keras 2 recipe
    z = lm.Input((4,))
    combined = lm.Model(z, D(G(z)), name="combined")
    loss = lm.losses.BinaryCrossentropy(from_logits=True)
    D.compile(optimizer=sgd(), loss=loss)
    combined.compile(optimizer=sgd(), loss=loss)
    rng = np.random.default_rng(2)
    samples = rng.normal(size=(8, 3)).astype("float32")
    labels = (rng.random((8, 1)) > 0.5).astype("float32")

    d0 = snap(D)
    with pytest.raises(lm.NotTrainableError) as info:
        D.train_on_batch(samples, labels)
    text = str(info.value)
    assert "'D.trainable' is False" in text
    assert "freeze" in text
    assert unchanged(d0, snap(D))
    assert D.trainable_weights == []

    g0 = snap(G)
    combined.train_on_batch(rng.normal(size=(8, 4)).astype("float32"), np.ones((8, 1), "float32"))
    assert all_changed(g0, snap(G))
    assert unchanged(d0, snap(D))


# -- rule 9: explain ----------------------------------------------------------------------
def test_rule9_explain_names_the_flag_or_freeze_that_closed_each_path():
    flagged = lm.layers.Dense(3, name="flagged")
    scoped = lm.layers.Dense(3, name="scoped")
    gated_layer = lm.layers.Dense(3, name="gated_layer")
    gate = lm.Sequential([lm.Input((3,)), gated_layer], name="gate")
    shared = lm.layers.Dense(3, name="shared")
    sub = lm.Sequential([lm.Input((3,)), shared], name="sub")
    open_layer = lm.layers.Dense(1, name="open_layer")
    inp = lm.Input((4,))
    f = flagged(inp)
    h = lm.layers.Add()([sub(gate(scoped(f))), shared(f)])
    root = lm.Model(inp, open_layer(h), name="root")
    flagged.trainable = False
    root.freeze(scoped)
    gate.trainable = False
    sub.trainable = False  # closes root > sub > shared; root > shared stays open
    open_layer.kernel.trainable = False

    report = root.explain()
    assert report.why(open_layer.bias).trained and report.why("open_layer/bias").reasons == ()
    # a shared layer reached by an open path (root > shared) and a closed one is trained
    assert report.why(shared.kernel).trained

    row = report.why(flagged.kernel)
    assert not row.trained and "flagged.trainable" in " ".join(row.reasons)
    assert "freeze" not in " ".join(row.reasons)
    row = report.why("scoped/kernel")
    assert not row.trained
    assert any("root" in r and "scoped" in r and "freeze" in r for r in row.reasons)
    row = report.why(gated_layer.bias)
    assert not row.trained and "gate.trainable" in " ".join(row.reasons)
    assert "gated_layer.trainable" not in " ".join(row.reasons)
    row = report.why(open_layer.kernel)
    assert not row.trained and "open_layer/kernel" in " ".join(row.reasons)

    # close the open path to `shared` too: one reason per closed path, each named
    root.freeze(shared)
    row = root.explain().why(shared.kernel)
    assert not row.trained
    assert len(row.reasons) == 2
    assert all("root" in r and "freeze" in r for r in row.reasons)
    assert any("sub.trainable" in r for r in row.reasons)
    str(report)  # renders

    # explain agrees with what a step does
    root.compile(optimizer=sgd(), loss="mse")
    x, y = data()
    before = var_snap(root)
    root.train_on_batch(x, y)
    report = root.explain()
    assert changed_uids(before, var_snap(root)) == {
        row.variable.uid for row in report if row.trained} == {open_layer.bias.uid}
