"""Cross-entropy of a softmax output from the softmax's logits (lamina.losses.softmax_logits):
the values and gradients of Keras's probability formula, a smaller train-step program.

References are independent of lamina: Keras-JAX's formula `log(clip(p / sum(p), eps,
1 - eps))` written here with jnp (gradients) and numpy in float64 (values), a hand-written
SGD step, and Keras 3's own `fit` (skipped only if keras cannot be imported).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.losses import softmax_logits

EPS = 1e-7  # keras.backend.epsilon()

try:
    import keras
except ImportError:  # keras is an optional test dependency
    keras = None


def logits_and_labels():
    """Eight rows of five classes: six ordinary, one whose labelled class has a probability
    below epsilon, one whose labelled class has a probability above 1 - epsilon (both are
    clipped by Keras's formula, so their gradients are zero)."""
    z = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 4, 0, 1, 2])
    z[6] = [30.0, 0.0, 0.0, 0.0, 0.0]  # labelled class 1: p ~ 1e-13
    z[7] = [0.0, 0.0, 30.0, 0.0, 0.0]  # labelled class 2: p ~ 1 - 4e-13
    return jnp.asarray(z), labels


def keras_formula(z, labels):
    """Keras-JAX's sparse categorical cross-entropy of `softmax(z)` (per sample), with jnp."""
    p = jax.nn.softmax(z)
    p = jnp.clip(p / jnp.sum(p, axis=-1, keepdims=True), EPS, 1 - EPS)
    return -jnp.take_along_axis(jnp.log(p), jnp.asarray(labels)[:, None], axis=-1)[:, 0]


def numpy_reference(z, labels):
    z = np.asarray(z, np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p = np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)
    return -np.log(p[np.arange(len(labels)), labels])


FORMS = {
    "losses.sparse_categorical_crossentropy":
        lambda y, p: lm.losses.sparse_categorical_crossentropy(y, p),
    "losses.categorical_crossentropy":
        lambda y, p: lm.losses.categorical_crossentropy(jax.nn.one_hot(y, 5), p),
    "SparseCategoricalCrossentropy(reduction=None)":
        lambda y, p: lm.losses.SparseCategoricalCrossentropy(reduction=None)(y, p),
    "ops.sparse_categorical_crossentropy":
        lambda y, p: lm.ops.sparse_categorical_crossentropy(y, p),
    "ops.categorical_crossentropy":
        lambda y, p: lm.ops.categorical_crossentropy(jax.nn.one_hot(y, 5), p),
}
SOFTMAXES = {
    "activations.softmax": lm.activations.softmax,
    "ops.softmax": lm.ops.softmax,
    "layers.Softmax": lm.layers.Softmax(),
    "layers.Activation('softmax')": lambda z: lm.layers.Activation("softmax")(z),
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("softmax", sorted(SOFTMAXES))
def test_remembered_softmax_gives_keras_values_and_gradients(form, softmax):
    z, labels = logits_and_labels()
    loss, make = FORMS[form], SOFTMAXES[softmax]
    seen = []

    def fused(z):
        with softmax_logits.recording():
            p = make(z)
            seen.append(softmax_logits.logits_of(p, -1) is z)
            return loss(labels, p)

    values = fused(z)
    np.testing.assert_allclose(values, numpy_reference(z, labels), rtol=1e-5, atol=1e-6)
    assert seen == [True], "the softmax output was not remembered with its logits"
    grads = jax.grad(lambda z: jnp.sum(fused(z)))(z)
    expected = jax.grad(lambda z: jnp.sum(keras_formula(z, labels)))(z)
    np.testing.assert_allclose(grads, expected, atol=1e-6)
    # the clipped rows: no gradient, as through Keras's clip
    assert np.all(np.asarray(grads[6:]) == 0) and np.any(np.asarray(grads[:6]) != 0)


def test_only_an_unchanged_softmax_output_inside_recording_is_remembered():
    z, _ = logits_and_labels()
    assert softmax_logits.logits_of(lm.activations.softmax(z), -1) is None  # not recording
    with softmax_logits.recording():
        p = lm.activations.softmax(z)
        assert softmax_logits.logits_of(p, -1) is z
        assert softmax_logits.logits_of(p, 1) is z  # the same axis, written positively
        assert softmax_logits.logits_of(p, 0) is None  # a loss over another axis
        assert softmax_logits.logits_of(p * 1.0, -1) is None  # anything applied after it
        assert softmax_logits.logits_of(p.astype(jnp.float16), -1) is None
        over_rows = lm.activations.softmax(z, axis=0)
        assert softmax_logits.logits_of(over_rows, -1) is None
        masked = lm.layers.Softmax()(z, mask=jnp.arange(5) < 3)
        assert softmax_logits.logits_of(masked, -1) is None
    with softmax_logits.recording():
        assert softmax_logits.logits_of(p, -1) is None  # a new trace remembers afresh


def test_a_masked_softmax_keeps_the_probability_formula():
    """Keras clips the masked classes' zeros to epsilon: the loss of a masked class is
    -log(epsilon), which the logits (set to a large negative number) would not give."""
    z, _ = logits_and_labels()
    labels = np.array([4] * 8)
    mask = jnp.arange(5) < 4
    with softmax_logits.recording():
        values = lm.losses.sparse_categorical_crossentropy(labels, lm.layers.Softmax()(z, mask))
    np.testing.assert_allclose(values, np.full(8, -np.log(np.float32(EPS))), rtol=1e-6)


def softmax_classifier():
    model = lm.Sequential([lm.Input((6,)), lm.layers.Dense(4, activation="softmax")])
    rng = np.random.default_rng(1)
    kernel = (rng.normal(size=(6, 4)) * 3).astype(np.float32)  # some rows saturate
    bias = rng.normal(size=(4,)).astype(np.float32)
    model.set_weights([kernel, bias])
    return model, kernel, bias


def data():
    rng = np.random.default_rng(2)
    return rng.normal(size=(16, 6)).astype(np.float32), rng.integers(0, 4, size=16)


def hand_written_sgd_step(kernel, bias, x, y, lr):
    def loss(params):
        return jnp.mean(keras_formula(x @ params[0] + params[1], y))

    grads = jax.grad(loss)((jnp.asarray(kernel), jnp.asarray(bias)))
    return [kernel - lr * np.asarray(grads[0]), bias - lr * np.asarray(grads[1])]


def test_fit_reads_the_logits_and_trains_as_keras_formula(monkeypatch):
    looked_up = []

    def spy(y_pred, axis):
        found = lookup(y_pred, axis)
        looked_up.append(found is not None)
        return found

    lookup = softmax_logits.logits_of
    monkeypatch.setattr(softmax_logits, "logits_of", spy)
    x, y = data()
    model, kernel, bias = softmax_classifier()
    model.compile(optimizer=lm.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert looked_up and all(looked_up), "fit's loss did not read the softmax's logits"
    expected = hand_written_sgd_step(kernel, bias, x, y, 0.5)
    for ours, theirs in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    p = np.exp(x @ kernel + bias)
    np.testing.assert_allclose(history.history["loss"][0],
                               np.mean(numpy_reference(np.log(p), y)), rtol=1e-5)
    assert softmax_logits._OUTPUTS.get() is None  # nothing stays remembered after the step


@pytest.mark.skipif(keras is None, reason="keras cannot be imported")
def test_fit_matches_keras_3():
    x, y = data()
    model, kernel, bias = softmax_classifier()
    model.compile(optimizer=lm.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    theirs = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="softmax")])
    theirs.set_weights([kernel, bias])
    theirs.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    ours_loss = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    keras_loss = theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours_loss.history["loss"], keras_loss.history["loss"], rtol=1e-5)
    for ours, reference in zip(model.get_weights(), [v.value for v in theirs.weights],
                               strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)
