"""`lamina.random`, Keras 3's `keras.random`: signatures, statistics, seeding, and a seed
generator held by a layer under fit, save/load and checkpoints.

References: Keras 3's own signatures (`inspect.signature`), numpy's generators and the
closed-form moments of each distribution (sample statistics of 20,000 draws, compared
within about five standard errors), `jax.random.split` applied by hand to the seed state.
"""
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.errors import ConfigurationError, InputSpecError, UsageError
from lamina.saving import checkpoint, register_serializable

N = 20_000
NAMES = ("normal", "uniform", "truncated_normal", "randint", "dropout", "shuffle",
         "categorical", "gamma", "beta", "binomial")


def test_names_and_signatures_are_keras():
    keras = pytest.importorskip("keras")
    for name in NAMES:
        assert (inspect.signature(getattr(lm.random, name))
                == inspect.signature(getattr(keras.random, name))), name
    assert lm.random.SeedGenerator.__name__ == "SeedGenerator"


def _close(sample_stat, expected, scale):
    assert abs(float(sample_stat) - expected) < 5 * scale / np.sqrt(N), (sample_stat, expected)


def test_continuous_draws_have_the_moments_and_ranges_of_numpy_and_theory():
    rng = np.random.default_rng(0)
    x = lm.random.normal((N,), mean=2.0, stddev=3.0, seed=1)
    _close(x.mean(), 2.0, 3.0)
    _close(x.std(), 3.0, 3.0)
    _close(x.mean(), rng.normal(2.0, 3.0, N).mean(), 6.0)
    u = lm.random.uniform((N,), minval=-1.0, maxval=3.0, seed=2)
    assert float(u.min()) >= -1.0 and float(u.max()) < 3.0
    _close(u.mean(), 1.0, 4 / np.sqrt(12))
    t = lm.random.truncated_normal((N,), mean=1.0, stddev=2.0, seed=3)
    assert float(jnp.abs(t - 1.0).max()) <= 4.0  # Keras's contract: within 2 stddev
    truncated = rng.normal(1.0, 2.0, 4 * N)
    truncated = truncated[np.abs(truncated - 1.0) <= 4.0]
    _close(t.std(), truncated.std(), 2.0)
    g = lm.random.gamma((N,), alpha=3.0, seed=4)
    _close(g.mean(), 3.0, np.sqrt(3.0))
    _close(g.var(), 3.0, 6.0)
    b = lm.random.beta((N,), alpha=2.0, beta=5.0, seed=5)
    _close(b.mean(), 2 / 7, 0.2)
    _close(b.mean(), rng.beta(2.0, 5.0, N).mean(), 0.4)
    assert x.dtype == u.dtype == t.dtype == g.dtype == b.dtype == jnp.float32


def test_discrete_draws_match_their_distributions():
    r = lm.random.randint((N,), minval=3, maxval=8, seed=6)
    assert r.dtype == jnp.int32 and set(np.unique(r)) == {3, 4, 5, 6, 7}
    np.testing.assert_allclose(np.bincount(np.asarray(r) - 3) / N, 0.2, atol=0.01)
    n = lm.random.binomial((N,), counts=10.0, probabilities=0.3, seed=7)
    _close(n.mean(), 3.0, np.sqrt(2.1))
    _close(n.var(), 2.1, 4.0)
    logits = jnp.log(jnp.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]]))
    c = lm.random.categorical(logits, N, seed=8)
    assert c.shape == (2, N) and c.dtype == jnp.int32
    np.testing.assert_allclose(np.bincount(np.asarray(c[0]), minlength=3) / N,
                               [0.2, 0.5, 0.3], atol=0.01)
    np.testing.assert_allclose(np.bincount(np.asarray(c[1]), minlength=3) / N,
                               [0.9, 0.05, 0.05], atol=0.01)


def test_dropout_and_shuffle():
    x = jnp.ones((200, 500))
    y = lm.random.dropout(x, 0.3, seed=9)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.7)}
    _close((y == 0).mean(), 0.3, np.sqrt(0.21))
    rows = lm.random.dropout(x, 0.5, noise_shape=(200, 1), seed=9)  # whole rows dropped
    assert all(len(np.unique(row)) == 1 for row in np.asarray(rows))
    a = jnp.arange(60).reshape(6, 10)
    s = lm.random.shuffle(a, axis=1, seed=10)
    assert not np.array_equal(s, a)
    np.testing.assert_array_equal(np.sort(s, axis=1), a)  # a permutation of each row ...
    np.testing.assert_array_equal(s - a[:, :1], np.broadcast_to(s[0], s.shape))  # the same one


def test_seeds_int_generator_and_global_stream_are_reproducible():
    np.testing.assert_array_equal(lm.random.normal((4,), seed=3), lm.random.normal((4,), seed=3))
    gen_a, gen_b = lm.random.SeedGenerator(5), lm.random.SeedGenerator(5)
    first = lm.random.uniform((4,), seed=gen_a)
    assert not np.array_equal(first, lm.random.uniform((4,), seed=gen_a))  # advances
    np.testing.assert_array_equal(first, lm.random.uniform((4,), seed=gen_b))
    for make in (lambda: lm.random.normal((4,)),
                 lambda: lm.random.normal((4,), seed=lm.random.SeedGenerator())):
        lm.random.set_seed(11)
        once = make()
        lm.utils.set_random_seed(11)
        np.testing.assert_array_equal(once, make())


def test_seeds_that_cannot_work_are_refused():
    with pytest.raises(UsageError, match="seed=None inside a compiled function"):
        jax.jit(lambda x: x + lm.random.normal((2,)))(1.0)
    with pytest.raises(ConfigurationError, match="expected seed to be an int, None"):
        lm.random.normal((2,), seed="one")
    with pytest.raises(ConfigurationError, match="expected an int seed or None"):
        lm.random.SeedGenerator(1.5)
    with pytest.raises(ConfigurationError, match="floating dtype, received int32"):
        lm.random.uniform((2,), dtype="int32", seed=1)
    with pytest.raises(InputSpecError, match="shape \\(batch_size, num_classes\\)"):
        lm.random.categorical(jnp.zeros((3,)), 2, seed=1)


@register_serializable(name="test_random>Noisy")
class Noisy(lm.layers.Layer):
    """A Keras-style layer: a generator created in `__init__`, drawn from in `call`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = lm.random.SeedGenerator(1337)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 1), initializer="ones")

    def call(self, x, training=False):
        if training:
            x = x + lm.random.normal(x.shape, stddev=0.5, seed=self.seed_generator)
        return x @ self.w


def _noisy_model():
    model = lm.Sequential([lm.Input((3,)), Noisy(name="noisy")], name="noisy_model")
    model.compile(optimizer=lm.optimizers.SGD(0.01), loss="mse")
    return model


def _split(state, times):
    for _ in range(times):
        state = jax.random.split(state)[1]
    return state


def test_generator_in_a_layer_advances_each_step_and_is_saved_and_restored(tmp_path):
    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = _noisy_model()
    layer = model.get_layer("noisy")
    state = layer.seed_generator.state
    assert not state.trainable and all(v is not state for v in model.weights)  # not a weight
    assert [v.path for v in model.variables if v.kind == "seed"] == [
        "noisy/seed_generator_state"]
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)  # 3 steps
    np.testing.assert_array_equal(state.numpy(), _split(jax.random.PRNGKey(1337), 3))

    model.save(tmp_path / "m.lamina")
    path = tmp_path / "ckpt.lamina"
    checkpoint.save_checkpoint(model, path, checkpoint.training_state(
        model, epoch=1, batch=0, epoch_rng_state=np.random.default_rng(0).bit_generator.state))
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    restored = _noisy_model()
    checkpoint.restore_checkpoint(restored, path)
    for other in (loaded, restored):
        np.testing.assert_array_equal(other.get_layer("noisy").seed_generator.state.numpy(),
                                      state.numpy())
    loaded.compile(optimizer=lm.optimizers.SGD(0.01), loss="mse")
    for m in (model, loaded, restored):  # the same noise follows: the same weights
        m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    np.testing.assert_array_equal(restored.get_weights()[0], model.get_weights()[0])


def test_a_generator_no_layer_holds_is_refused_in_a_compiled_call():
    loose = lm.random.SeedGenerator(1)

    class Loose(lm.layers.Layer):
        def call(self, x):
            return x + lm.random.normal(x.shape, seed=loose)

    eager = Loose()(np.zeros((2,), "float32"))  # eagerly it draws, as in Keras
    assert eager.shape == (2,)
    with pytest.raises(UsageError, match="no layer holds it"):
        lm.Sequential([lm.Input((2,)), Loose(name="loose")])
