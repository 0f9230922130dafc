"""mixed_float16 with dynamic loss scaling (LossScaleOptimizer), checked against a
hand-written JAX loop that implements Keras's rules: scale the loss, unscale the gradients,
skip a step with non-finite gradients and halve the scale, double it after
`dynamic_growth_steps` finite steps in a row."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.optimizers.loss_scale import LossScaleState

F16 = "mixed_float16"


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    return x, y


def _linear(dtype=F16, **compile_kwargs):
    model = lm.Sequential([lm.Input((3,)), lm.layers.Dense(1, dtype=dtype)])
    model.compile(compile_kwargs.pop("optimizer", lm.optimizers.SGD(0.1)), "mse",
                  **compile_kwargs)
    return model


def _reference(kernel, bias, x, y, steps, scale, growth_steps, lr=0.1):
    """Hand-written: Dense computing in float16 on float32 master weights, MSE in float32,
    SGD, Keras's dynamic loss scale. Returns the weights and the scale after each step."""

    def loss_fn(params, xb, yb):
        k, b = params
        out = xb.astype(jnp.float16) @ k.astype(jnp.float16) + b.astype(jnp.float16)
        return jnp.mean(jnp.square(yb - out.astype(jnp.float32)))

    grad_fn = jax.jit(jax.grad(lambda p, s: loss_fn(p, x, y) * s))
    params, count, scales = (jnp.asarray(kernel), jnp.asarray(bias)), 0, []
    for _ in range(steps):
        grads = grad_fn(params, jnp.float32(scale))
        grads = [g / scale for g in grads]
        if all(bool(jnp.all(jnp.isfinite(g))) for g in grads):
            params = tuple(p - lr * g for p, g in zip(params, grads, strict=True))
            count += 1
            if count == growth_steps:
                scale, count = scale * 2.0, 0
        else:
            scale, count = scale / 2.0, 0
        scales.append(scale)
    return [np.asarray(p) for p in params], scales


def test_mixed_float16_policy_keeps_float32_weights_and_computes_in_float16():
    layer = lm.layers.Dense(4, dtype=F16)
    out = layer(np.ones((2, 3), np.float32))
    assert (layer.dtype, layer.compute_dtype, out.dtype) == ("float32", "float16", jnp.float16)
    assert all(v.dtype == jnp.float32 for v in layer.weights)
    assert lm.mixed_precision.DTypePolicy(F16).is_mixed


def test_compile_wraps_the_optimizer_for_float16_layers_only():
    inner = lm.optimizers.SGD(0.1)
    model = _linear(optimizer=inner)
    assert isinstance(model.optimizer, lm.optimizers.LossScaleOptimizer)
    assert model.optimizer.inner_optimizer is inner
    assert model.optimizer.initial_scale == 2.0 ** 15  # Keras's defaults
    assert model.optimizer.dynamic_growth_steps == 2000
    assert lm.mixed_precision.LossScaleOptimizer is lm.optimizers.LossScaleOptimizer
    assert isinstance(_linear(dtype="mixed_bfloat16").optimizer, lm.optimizers.SGD)
    assert isinstance(_linear(auto_scale_loss=False).optimizer, lm.optimizers.SGD)
    explicit = lm.optimizers.LossScaleOptimizer(lm.optimizers.SGD(0.1), initial_scale=8.0)
    assert _linear(optimizer=explicit).optimizer is explicit  # not wrapped twice


def test_the_global_policy_wraps_as_keras_does():
    lm.mixed_precision.set_global_policy(F16)
    model = lm.Sequential([lm.Input((3,)), lm.layers.Dense(2), lm.layers.Dense(1)])
    lm.mixed_precision.set_global_policy(None)
    model.compile("adam", "mse")
    assert isinstance(model.optimizer, lm.optimizers.LossScaleOptimizer)
    assert isinstance(model.optimizer.inner_optimizer, lm.optimizers.Adam)


def test_training_matches_a_hand_written_loss_scaled_loop_through_overflows():
    """A scale of 2**30 overflows the float16 gradients: the first steps are skipped and the
    scale halves until the gradients fit, then grows every 3 finite steps."""
    x, y = _data()
    model = _linear(optimizer=lm.optimizers.LossScaleOptimizer(
        lm.optimizers.SGD(0.1), initial_scale=2.0 ** 30, dynamic_growth_steps=3))
    kernel, bias = (np.array(w) for w in model.get_weights())
    scales = []
    for _ in range(30):
        model.train_on_batch(x, y)
        scales.append(model.optimizer.dynamic_scale)
    (ref_kernel, ref_bias), ref_scales = _reference(kernel, bias, x, y, 30, 2.0 ** 30, 3)
    assert scales == ref_scales
    assert scales[0] == 2.0 ** 29  # the first step overflowed
    assert any(b > a for a, b in itertools.pairwise(scales))  # ... and the scale grew later
    # float16 forward passes round in a different order than XLA's fused Dense: 1e-4
    np.testing.assert_allclose(model.get_weights()[0], ref_kernel, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.get_weights()[1], ref_bias, rtol=1e-4, atol=1e-5)


def test_a_skipped_step_leaves_weights_and_optimizer_state_bitwise_unchanged():
    x, y = _data()
    model = _linear(optimizer=lm.optimizers.LossScaleOptimizer(lm.optimizers.Adam(0.01),
                                                               initial_scale=2.0 ** 8))
    model.train_on_batch(x, y)  # a finite step: Adam's moments are non-zero now
    before = [np.array(w) for w in model.get_weights()]
    state = model._trainer.opt_state
    inner_before = jax.tree_util.tree_map(np.array, state.inner_state)
    # force an overflow: the next step's scale is far beyond float16's range
    model._trainer.opt_state = state._replace(scale=jnp.asarray(2.0 ** 60, jnp.float32))
    model.train_on_batch(x, y)
    after = model._trainer.opt_state
    assert isinstance(after, LossScaleState) and not bool(after.finite)
    for w, b in zip(model.get_weights(), before, strict=True):
        assert np.array_equal(np.asarray(w).view(np.uint32), b.view(np.uint32))
    for new, old in zip(jax.tree_util.tree_leaves(after.inner_state),
                        jax.tree_util.tree_leaves(inner_before), strict=True):
        assert np.array_equal(np.asarray(new), old)
    assert float(after.scale) == 2.0 ** 59 and int(after.growth_count) == 0


def test_the_scale_doubles_after_dynamic_growth_steps_finite_steps():
    x, y = _data()
    model = _linear(optimizer=lm.optimizers.LossScaleOptimizer(
        lm.optimizers.SGD(0.01), initial_scale=1.0, dynamic_growth_steps=4))
    seen = []
    for _ in range(9):
        model.train_on_batch(x, y)
        seen.append(model.optimizer.dynamic_scale)
    assert seen == [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 4.0, 4.0]


def test_loss_scaling_recovers_gradients_that_underflow_in_float16():
    """With a loss weight of 1e-7, d(loss)/d(output) is ~1e-8: zero in float16 (its smallest
    subnormal is 6e-8). Unscaled float16 training leaves the weights unchanged; the scaled
    one follows float32 training."""
    x, y = _data()
    weights = {}
    for name, dtype, scale in (("float32", None, False), ("unscaled", F16, False),
                               ("scaled", F16, True)):
        lm.random.set_seed(0)
        model = _linear(dtype=dtype, optimizer=lm.optimizers.SGD(1e6), loss_weights=[1e-7],
                        auto_scale_loss=scale)
        start = [np.array(w) for w in model.get_weights()]
        for _ in range(3):
            model.train_on_batch(x, y)
        weights[name] = (start, [np.asarray(w) for w in model.get_weights()])
    start, unscaled = weights["unscaled"]
    assert all(np.array_equal(a, b) for a, b in zip(start, unscaled, strict=True))
    _, float32 = weights["float32"]
    _, scaled = weights["scaled"]
    assert not np.allclose(float32[0], start[0])
    for s, f in zip(scaled, float32, strict=True):
        np.testing.assert_allclose(s, f, rtol=2e-2, atol=2e-3)


def test_frozen_layers_stay_bitwise_frozen_with_loss_scaling():
    x, y = _data()
    backbone = lm.layers.Dense(4, dtype=F16)
    head = lm.layers.Dense(1, dtype=F16)
    model = lm.Sequential([lm.Input((3,)), backbone, head])
    model.compile(lm.optimizers.LossScaleOptimizer(lm.optimizers.Adam(0.01),
                                                   initial_scale=2.0 ** 26), "mse")
    model.freeze(backbone)
    frozen = [np.array(w) for w in backbone.get_weights()]
    head_start = np.array(head.get_weights()[0])
    model.fit(x, y, batch_size=8, epochs=5, verbose=0)
    assert model.optimizer.dynamic_scale < 2.0 ** 26  # overflowing steps were skipped
    for w, b in zip(backbone.get_weights(), frozen, strict=True):
        assert np.array_equal(np.asarray(w).view(np.uint32), b.view(np.uint32))
    assert not np.array_equal(head.get_weights()[0], head_start)


def test_steps_per_execution_gives_the_same_weights_and_scale():
    x, y = _data(64)
    results = []
    for k in (1, 4):
        lm.random.set_seed(0)
        model = _linear(optimizer=lm.optimizers.LossScaleOptimizer(
            lm.optimizers.SGD(0.05), initial_scale=2.0 ** 26, dynamic_growth_steps=2),
            steps_per_execution=k)
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        results.append(([np.asarray(w) for w in model.get_weights()],
                        model.optimizer.dynamic_scale))
    (w1, s1), (w4, s4) = results
    assert s1 == s4
    for a, b in zip(w1, w4, strict=True):
        assert np.array_equal(a, b)


def test_the_learning_rate_is_live_through_the_wrapper():
    x, y = _data()
    model = _linear(optimizer=lm.optimizers.LossScaleOptimizer(lm.optimizers.SGD(0.1),
                                                               initial_scale=1.0))
    model.train_on_batch(x, y)
    model.optimizer.learning_rate = 0.0
    assert model.optimizer.inner_optimizer.learning_rate == 0.0
    before = [np.array(w) for w in model.get_weights()]
    model.train_on_batch(x, y)
    assert all(np.array_equal(a, np.asarray(b))
               for a, b in zip(before, model.get_weights(), strict=True))


def test_save_and_load_keep_the_wrapper_and_the_current_scale(tmp_path):
    x, y = _data()
    model = _linear(optimizer=lm.optimizers.LossScaleOptimizer(
        lm.optimizers.Adam(0.01), initial_scale=2.0 ** 30, dynamic_growth_steps=5))
    for _ in range(3):
        model.train_on_batch(x, y)
    scale = model.optimizer.dynamic_scale
    assert scale < 2.0 ** 30
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    assert isinstance(loaded.optimizer, lm.optimizers.LossScaleOptimizer)
    assert isinstance(loaded.optimizer.inner_optimizer, lm.optimizers.Adam)
    assert loaded.optimizer.dynamic_growth_steps == 5
    assert loaded.optimizer.dynamic_scale == scale
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_gan_compile_adds_loss_scaling_for_float16_models():
    lm.mixed_precision.set_global_policy(F16)
    generator = lm.Sequential([lm.Input((2,)), lm.layers.Dense(3)])
    discriminator = lm.Sequential([lm.Input((3,)), lm.layers.Dense(1)])
    lm.mixed_precision.set_global_policy(None)
    gan = lm.models.GAN(generator, discriminator, latent_dim=2)
    gan.compile(lm.optimizers.Adam(1e-3), lm.optimizers.Adam(1e-3))
    trainer = gan._trainer
    assert isinstance(trainer.d_optimizer, lm.optimizers.LossScaleOptimizer)
    assert isinstance(trainer.g_optimizer, lm.optimizers.LossScaleOptimizer)
    history = gan.fit(np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32),
                      batch_size=8, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["d_loss"] + history.history["g_loss"]))
    assert not np.array_equal(np.asarray(generator.get_weights()[0]),
                              np.zeros_like(generator.get_weights()[0]))


class _CustomStep(lm.Model):
    def __init__(self):
        super().__init__()
        self.dense = lm.layers.Dense(1, dtype=F16)

    def call(self, x):
        return self.dense(x)

    def train_step(self, state, data):
        return {}, state


@pytest.mark.parametrize("args, message", [
    ({"initial_scale": 0}, "expected a positive finite initial_scale, received 0"),
    ({"initial_scale": float("inf")}, "expected a positive finite initial_scale, received inf"),
    ({"dynamic_growth_steps": 0}, "expected a positive integer dynamic_growth_steps, "
                                  "received 0"),
    ({"dynamic_growth_steps": 2.5}, "expected a positive integer dynamic_growth_steps, "
                                    "received 2.5"),
])
def test_bad_arguments_are_refused(args, message):
    with pytest.raises(lm.ConfigurationError, match=message):
        lm.optimizers.LossScaleOptimizer(lm.optimizers.SGD(), **args)


def test_wrapping_twice_and_a_custom_train_step_are_refused():
    scaled = lm.optimizers.LossScaleOptimizer("sgd")
    assert isinstance(scaled.inner_optimizer, lm.optimizers.SGD)
    with pytest.raises(lm.ConfigurationError, match="already a LossScaleOptimizer"):
        lm.optimizers.LossScaleOptimizer(scaled)
    model = _CustomStep()
    with pytest.raises(lm.ConfigurationError, match="not available to a custom train_step.*"
                                                    "auto_scale_loss=False"):
        model.compile("sgd", "mse")
    model.compile("sgd", "mse", auto_scale_loss=False)
    assert isinstance(model.optimizer, lm.optimizers.SGD)
