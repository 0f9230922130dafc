"""Mask propagation through functional, Sequential and nested models (Keras 3 rules)."""
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm


class MaskFromZeros(lm.layers.Layer):
    """Test-only producer: passes its input on with the mask `any(x != 0, axis=-1)`."""

    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return jnp.any(inputs != 0, axis=-1)

    def call(self, inputs):
        return inputs


class MaskedSum(lm.layers.Layer):
    """Test-only consumer: sums over time the steps its mask keeps (all steps without one).
    Like Keras's consumers (GlobalAveragePooling1D) it supports masking and emits none."""

    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return None

    def call(self, inputs, mask=None):
        if mask is None:
            return jnp.sum(inputs, axis=1)
        return jnp.sum(inputs * mask[..., None].astype(inputs.dtype), axis=1)


class MaskProbe(lm.layers.Layer):
    """Test-only: outputs the mask it received as floats (ones when none)."""

    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return None

    def call(self, inputs, mask=None):
        if mask is None:
            return jnp.ones(inputs.shape[:2])
        return mask.astype(jnp.float32)


def _data():
    x = np.random.default_rng(0).normal(size=(3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.0
    x[2, 1] = 0.0
    return x, np.any(x != 0, axis=-1)


def test_mask_reaches_a_consumer_through_layers_that_support_masking():
    x, mask = _data()
    inp = lm.Input((5, 2))
    h = lm.layers.Dense(4, use_bias=False)(MaskFromZeros()(inp))
    out = MaskedSum()(lm.layers.Activation("relu")(h))
    model = lm.Model(inp, out)
    kernel = model.layers[2].get_weights()[0]
    expected = (np.maximum(x @ kernel, 0) * mask[..., None]).sum(axis=1)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_sequential_propagates_masks_and_explicit_mask_argument_wins():
    x, mask = _data()
    model = lm.Sequential([lm.Input((5, 2)), MaskFromZeros(), MaskProbe()])
    np.testing.assert_array_equal(np.asarray(model(x)), mask.astype(np.float32))
    inp = lm.Input((5, 2))
    explicit = np.ones((3, 5), bool)
    explicit[:, 0] = False
    out = MaskProbe()(MaskFromZeros()(inp), mask=explicit)
    np.testing.assert_array_equal(np.asarray(lm.Model(inp, out)(x)), explicit.astype(np.float32))


def test_a_layer_without_mask_support_drops_the_mask_with_a_warning():
    x, _ = _data()
    inp = lm.Input((5, 2))
    out = MaskProbe()(lm.layers.Reshape((5, 2))(MaskFromZeros()(inp)))
    model = lm.Model(inp, out)
    with pytest.warns(UserWarning, match="Layer 'reshape' \\(Reshape\\) received an input with a "
                                         "mask but does not support masking"):
        result = model(x)
    np.testing.assert_array_equal(np.asarray(result), np.ones((3, 5), np.float32))


def test_masks_cross_nested_models_and_model_call_takes_a_mask():
    x, mask = _data()
    inner_in = lm.Input((5, 2))
    inner = lm.Model(inner_in, lm.layers.Dense(2)(MaskFromZeros()(inner_in)), name="inner")
    outer_in = lm.Input((5, 2))
    outer = lm.Model(outer_in, MaskProbe()(inner(outer_in)))
    np.testing.assert_array_equal(np.asarray(outer(x)), mask.astype(np.float32))
    # a mask given to a model's call enters at its inputs
    probe_in = lm.Input((5, 2))
    probe = lm.Model(probe_in, MaskProbe()(lm.layers.Dense(2)(probe_in)))
    given = np.zeros((3, 5), bool)
    given[:, :2] = True
    np.testing.assert_array_equal(np.asarray(probe(x, mask=given)), given.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(probe(x)), np.ones((3, 5), np.float32))
    # one mask per input: a list of another length is refused, not truncated
    with pytest.raises(lm.InputSpecError, match=r"expected 1 mask\(s\).*received 2"):
        probe(x, mask=[given, given])


def test_masks_work_inside_the_jitted_train_step():
    x, mask = _data()
    inp = lm.Input((5, 2))
    dense = lm.layers.Dense(1, use_bias=False)
    model = lm.Model(inp, MaskedSum()(dense(MaskFromZeros()(inp))))
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    y = np.zeros((3, 1), np.float32)
    k = dense.get_weights()[0].astype(np.float64)
    # d/dk mean((sum_t m_t x_t k)^2) = 2/n * sum_b pred_b * sum_t m_t x_bt
    summed = (x.astype(np.float64) * mask[..., None]).sum(axis=1)
    pred = summed @ k
    grad = 2 / 3 * summed.T @ pred
    model.train_on_batch(x, y)
    np.testing.assert_allclose(dense.get_weights()[0], k - 0.1 * grad, rtol=1e-5, atol=1e-6)


def test_output_mask_restricts_the_loss_and_metrics_to_valid_steps():
    """Keras 3: a masked output's loss is the mean over valid entries; metrics skip padding."""
    x, mask = _data()
    inp = lm.Input((5, 2))
    dense = lm.layers.Dense(1)
    model = lm.Model(inp, dense(MaskFromZeros()(inp)))
    model.compile(optimizer=lm.optimizers.SGD(0.0), loss="mse", metrics=["mae"])
    y = np.random.default_rng(1).normal(size=(3, 5, 1)).astype(np.float32)
    kernel, bias = (w.astype(np.float64) for w in dense.get_weights())
    err = (x @ kernel + bias - y)[..., 0]
    expected_mse = (err ** 2)[mask].mean()
    expected_mae = np.abs(err)[mask].mean()
    loss, mae = model.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(loss, expected_mse, rtol=1e-5)
    np.testing.assert_allclose(mae, expected_mae, rtol=1e-5)
    # with sample weights per sequence, as Keras: weights scale each sample's valid steps
    sw = np.array([1.0, 0.0, 2.0], np.float32)
    w = mask * sw[:, None]
    expected = ((err ** 2) * w).sum() * (mask.size / mask.sum()) / mask.size
    np.testing.assert_allclose(model.evaluate(x, y, sample_weight=sw, verbose=0)[0], expected,
                               rtol=1e-5)


def test_a_second_argument_passes_its_mask_as_argument_mask():
    """Keras 3's rule: MultiHeadAttention(query, value) gets `value_mask` from `value`."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 3, 4)).astype(np.float32)
    tokens = np.array([[3, 1, 0, 0], [2, 2, 2, 0]], np.int32)
    q_in, v_in = lm.Input((3, 4)), lm.Input((4,), dtype="int32")
    embed = lm.layers.Embedding(5, 4, mask_zero=True)
    mha = lm.layers.MultiHeadAttention(num_heads=2, key_dim=2)
    model = lm.Model([q_in, v_in], mha(q_in, embed(v_in)))
    value = np.asarray(embed(tokens))
    expected = mha(q, value, value_mask=tokens != 0)
    unmasked = mha(q, value)
    np.testing.assert_allclose(np.asarray(model([q, tokens])), np.asarray(expected), rtol=1e-5,
                               atol=1e-6)
    assert not np.allclose(np.asarray(expected), np.asarray(unmasked))
