"""The one forward pass + loss (`training.step.forward_loss`) as each caller sees it: the
train step (`train_on_batch`), the test step (`evaluate`) and the custom-step helpers
(`custom_step.compute_loss_and_updates`, `update_metrics`) in the documented custom
`train_step`.

One model uses every part of it: an output mask (from `Masking`), an explicit `add_loss`,
an activity regularizer, a trained weight's regularizer and a frozen weight's regularizer
(which adds nothing: docs/design.md rule 3). Reference: the loss written out by hand in float64
numpy, and its gradient with `jax.grad` over a hand-written float32 JAX function (rtol 1e-5).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from recipe import RecipeTrainStep

import lamina as lm
from lamina import regularizers

LR, ADDED, L2_HEAD, L1_ACTIVITY, L2_FROZEN = 0.1, 0.5, 0.1, 0.05, 10.0


class MeanSquareLoss(lm.layers.Layer):
    """Test-only: passes its input (and mask) on and adds `ADDED * mean(inputs ** 2)`."""

    supports_masking = True

    def call(self, inputs):
        self.add_loss(ADDED * jnp.mean(inputs ** 2))
        return inputs


class CustomStep(RecipeTrainStep, lm.Model):
    """The documented custom `train_step` recipe, on a functional graph."""


def _model(cls=lm.Model):
    """Masking -> frozen regularized Dense -> add_loss -> regularized head; head trains."""
    lm.random.set_seed(0)
    inp = lm.Input((5, 2))
    frozen = lm.layers.Dense(3, kernel_regularizer=regularizers.L2(L2_FROZEN), name="frozen")
    head = lm.layers.Dense(2, kernel_regularizer=regularizers.L2(L2_HEAD),
                           activity_regularizer=regularizers.L1(L1_ACTIVITY), name="head")
    model = cls(inp, head(MeanSquareLoss()(frozen(lm.layers.Masking(0.0)(inp)))))
    model.compile(lm.optimizers.SGD(LR), "mse")
    frozen.trainable = False
    return model, frozen, head


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.0  # masked steps
    x[2, 1] = 0.0
    return x, rng.normal(size=(4, 5, 2)).astype(np.float32)


def _ref_loss(xp, x, y, frozen_weights, head_weights):
    """The expected loss, written with the array module `xp` (numpy or jax.numpy)."""
    (k1, b1), (k2, b2) = frozen_weights, head_weights
    mask = xp.any(x != 0, axis=-1)
    h = xp.where(mask[..., None], x, 0.0) @ k1 + b1
    out = h @ k2 + b2
    per_step = xp.mean((out - y) ** 2, axis=-1)
    data = xp.sum(per_step * mask) / xp.sum(mask)  # the mean over unmasked steps
    return (data + ADDED * xp.mean(h ** 2) + L1_ACTIVITY * xp.sum(xp.abs(out)) / len(x)
            + L2_HEAD * xp.sum(k2 ** 2))


def _expected(model, frozen, head):
    """(loss, head weights after one SGD step) from the references."""
    x, y = _data()
    frozen_w = [w.astype(np.float64) for w in frozen.get_weights()]
    loss = _ref_loss(np, x.astype(np.float64), y.astype(np.float64), frozen_w,
                     [w.astype(np.float64) for w in head.get_weights()])
    head_w = [jnp.asarray(w) for w in head.get_weights()]
    grads = jax.grad(lambda hw: _ref_loss(jnp, x, y, frozen.get_weights(), hw))(head_w)
    return loss, [np.asarray(w - LR * g) for w, g in zip(head_w, grads, strict=True)]


def test_evaluate_adds_masks_add_loss_and_the_trained_regularizers_only():
    model, frozen, head = _model()
    loss, _ = _expected(model, frozen, head)
    np.testing.assert_allclose(model.evaluate(*_data(), batch_size=4, verbose=0), loss,
                               rtol=1e-5)


@pytest.mark.parametrize("cls", [lm.Model, CustomStep], ids=["default_step", "custom_step"])
def test_train_step_loss_and_gradient_match_the_reference(cls):
    model, frozen, head = _model(cls)
    loss, new_head = _expected(model, frozen, head)
    before = frozen.get_weights()
    np.testing.assert_allclose(model.train_on_batch(*_data()), loss, rtol=1e-5)
    for got, want in zip(head.get_weights(), new_head, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(before, frozen.get_weights(), strict=True))
