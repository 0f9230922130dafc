"""GAN fit: the discriminator step then the generator step, fused in one jitted call.

Reference: a hand-written JAX + optax loop over the same weights (copied out of the lamina
models) with the same latent draws (the GAN's seed state is split once per half-step, as
documented in lamina.models.gan). Tolerance: rtol 2e-5 / atol 1e-6 after three fused steps
(float32; the operations agree, fusion may reorder sums).
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina as lm
from lamina.models.gan import GAN

LATENT, FEATURES, BATCH = 3, 5, 8
RTOL, ATOL = 2e-5, 1e-6


def _gan(seed=0, d_lr=1e-2, g_lr=1e-2):
    lm.random.set_seed(seed)
    # fixed names: a resumed run rebuilds the same variable paths, as a new process would
    gen = lm.Sequential([lm.Input((LATENT,)), lm.layers.Dense(6, activation="tanh", name="g1"),
                         lm.layers.Dense(FEATURES, name="g2")], name="generator")
    disc = lm.Sequential([lm.Input((FEATURES,)),
                          lm.layers.Dense(6, activation="tanh", name="d1"),
                          lm.layers.Dense(1, name="d2")], name="discriminator")
    gan = GAN(gen, disc, latent_dim=LATENT, seed=seed + 11, name="gan")
    gan.compile(d_optimizer=lm.optimizers.Adam(d_lr), g_optimizer=lm.optimizers.Adam(g_lr),
                loss_fn=lm.losses.BinaryCrossentropy(from_logits=True))
    return gan


def _real(n=BATCH * 3, seed=1):
    return np.random.default_rng(seed).normal(1.0, 0.5, size=(n, FEATURES)).astype("float32")


def _mlp(params, x):
    w1, b1, w2, b2 = params
    return jnp.tanh(x @ w1 + b1) @ w2 + b2


def _bce_logits(labels, scores):
    return jnp.mean(jnp.maximum(scores, 0) - scores * labels
                    + jnp.log1p(jnp.exp(-jnp.abs(scores))))


def _reference(g_params, d_params, seed_state, real_batches, d_lr, g_lr):
    """The documented recipe, written directly in JAX + optax."""
    d_tx, g_tx = optax.adam(d_lr), optax.adam(g_lr)
    d_opt, g_opt = d_tx.init(d_params), g_tx.init(g_params)
    logs = []
    for real in real_batches:
        key, seed_state = jax.random.split(seed_state)
        fake = _mlp(g_params, jax.random.normal(key, (len(real), LATENT)))

        def d_loss(d, real=real, fake=fake):
            scores = jnp.concatenate([_mlp(d, real), _mlp(d, fake)])
            labels = jnp.concatenate([jnp.ones((len(real), 1)), jnp.zeros((len(real), 1))])
            return _bce_logits(labels, scores)

        dl, grads = jax.value_and_grad(d_loss)(d_params)
        deltas, d_opt = d_tx.update(grads, d_opt, d_params)
        d_params = optax.apply_updates(d_params, deltas)
        key, seed_state = jax.random.split(seed_state)
        z = jax.random.normal(key, (len(real), LATENT))

        def g_loss(g, d_params=d_params, z=z):
            scores = _mlp(d_params, _mlp(g, z))
            return _bce_logits(jnp.ones_like(scores), scores)

        gl, grads = jax.value_and_grad(g_loss)(g_params)
        deltas, g_opt = g_tx.update(grads, g_opt, g_params)
        g_params = optax.apply_updates(g_params, deltas)
        logs.append((float(dl), float(gl)))
    return g_params, d_params, logs


def _batches(real):
    return [real[i:i + BATCH] for i in range(0, len(real), BATCH)]


def test_fused_step_matches_a_hand_written_two_step_jax_loop():
    gan = _gan()
    real = _real()
    gan._trainer.ensure_ready(real[:BATCH])
    g0 = [jnp.asarray(w) for w in gan.generator.get_weights()]
    d0 = [jnp.asarray(w) for w in gan.discriminator.get_weights()]
    seed0 = jnp.asarray(gan.seed_generator.state.value)
    logs = [gan._trainer.train_step(b, reset_metrics=True) for b in _batches(real)]
    g_ref, d_ref, ref_logs = _reference(g0, d0, seed0, _batches(real), 1e-2, 1e-2)
    for got, want in zip(gan.generator.get_weights() + gan.discriminator.get_weights(),
                         list(g_ref) + list(d_ref), strict=True):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose([[float(v) for v in step] for step in logs], ref_logs,
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("still", ["generator", "discriminator"])
def test_each_model_changes_only_in_its_own_half_step(still):
    # a zero rate for one side: its weights and optimizer moments stay bit-for-bit equal
    # while the other side trains, so no update from the other half-step reaches them
    gan = _gan(d_lr=0.0 if still == "discriminator" else 1e-2,
               g_lr=0.0 if still == "generator" else 1e-2)
    real = _real()
    gan._trainer.ensure_ready(real[:BATCH])
    model = getattr(gan, still)
    moving = gan.discriminator if still == "generator" else gan.generator
    before = [w.copy() for w in model.get_weights()]
    other_before = [w.copy() for w in moving.get_weights()]
    for b in _batches(real):
        gan._trainer.train_step(b)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert not any(np.array_equal(a, b)
                   for a, b in zip(other_before, moving.get_weights(), strict=True))


def test_a_frozen_generator_keeps_its_weights_and_optimizer_state_bitwise():
    gan = _gan()
    real = _real()
    gan.fit(real, batch_size=BATCH, epochs=1, verbose=0)
    gan.generator.trainable = False  # live: the next step leaves G alone (docs/design.md rule 5, 6)
    g_before = [w.copy() for w in gan.generator.get_weights()]
    opt_before = [np.asarray(a).copy() for a in
                  jax.tree_util.tree_leaves(gan._trainer.opt_state["generator"])]
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    gan.fit(real, batch_size=BATCH, epochs=1, verbose=0)
    assert all(np.array_equal(a, b)
               for a, b in zip(g_before, gan.generator.get_weights(), strict=True))
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(
        opt_before, jax.tree_util.tree_leaves(gan._trainer.opt_state["generator"]), strict=True))
    assert not np.array_equal(d_before[0], gan.discriminator.get_weights()[0])


class _Crash(lm.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at, self.seen = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt(f"crash at step {self.at}")


def test_fit_resumes_exactly_from_a_backup(tmp_path):
    real = _real(BATCH * 4)
    full = _gan()
    history = full.fit(real, batch_size=BATCH, epochs=3, verbose=0)

    backup = lm.callbacks.BackupAndRestore(tmp_path / "backup", save_freq=2)
    crashed = _gan()
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(real, batch_size=BATCH, epochs=3, verbose=0, callbacks=[backup, _Crash(7)])
    resumed = _gan(seed=5)  # different initial weights: everything comes from the backup
    backup = lm.callbacks.BackupAndRestore(tmp_path / "backup", save_freq=2)
    resumed_history = resumed.fit(real, batch_size=BATCH, epochs=3, verbose=0,
                                  callbacks=[backup])
    for a, b in zip(full.get_weights(), resumed.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert resumed_history.history == history.history
    assert resumed._trainer.iterations == full._trainer.iterations == 12


class _RealBatches(lm.utils.PyDataset):
    def __init__(self, real):
        super().__init__()
        self.real = real

    def __len__(self):
        return len(self.real) // BATCH

    def __getitem__(self, index):
        return self.real[index * BATCH:(index + 1) * BATCH]


@pytest.mark.parametrize("source", ["generator", "tuples", "pydataset"])
def test_fit_from_a_generator_or_dataset_of_real_batches_matches_arrays(source):
    """Batches without targets (bare arrays, or 1-tuples) train exactly like the arrays."""
    real = _real(BATCH * 3)
    by_arrays = _gan()
    by_arrays.fit(real, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    streamed = _gan()
    if source == "pydataset":
        streamed.fit(_RealBatches(real), epochs=2, shuffle=False, verbose=0)
    else:
        def batches():
            while True:
                for i in range(3):
                    batch = real[i * BATCH:(i + 1) * BATCH]
                    yield (batch,) if source == "tuples" else batch

        streamed.fit(batches(), steps_per_epoch=3, epochs=2, verbose=0)
    assert streamed._trainer.iterations == by_arrays._trainer.iterations == 6
    for a, b in zip(by_arrays.get_weights(), streamed.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_fit_on_an_accelerator_sends_the_real_batches_with_their_step(monkeypatch):
    """Where fit keeps a model's arrays on the device (one step per call on a GPU), a GAN's
    fit still sends each batch of real samples to its fused step, and trains the same."""
    from lamina.training.data import device as device_data

    real = _real(BATCH * 3)
    reference = _gan()
    reference.fit(real, batch_size=BATCH, epochs=2, verbose=0, seed=5)
    monkeypatch.setattr(device_data, "gathers_single_steps", lambda: True)
    gan = _gan()
    gan.fit(real, batch_size=BATCH, epochs=2, verbose=0, seed=5)
    assert gan._trainer.iterations == 6
    for a, b in zip(reference.get_weights(), gan.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_progress_and_callbacks_see_both_losses(capsys):
    seen = []
    gan = _gan()
    gan.fit(_real(), batch_size=BATCH, epochs=1, verbose=2, callbacks=[
        lm.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(sorted(logs)))])
    assert seen == [["d_loss", "g_loss"]] * 3
    assert "d_loss" in capsys.readouterr().out


def test_bad_arguments():
    gan = _gan()
    with pytest.raises(lm.errors.InputSpecError, match="expected only real samples"):
        gan.fit(_real(), np.ones(BATCH * 3), verbose=0)
    with pytest.raises(ValueError, match="expected a positive integer latent_dim, received 0"):
        GAN(gan.generator, gan.discriminator, latent_dim=0)
    shared = lm.optimizers.Adam()
    with pytest.raises(lm.ConfigurationError, match="are the same object"):
        gan.compile(d_optimizer=shared, g_optimizer=shared)


def test_nothing_trainable_is_an_error_naming_the_flag():
    gan = _gan()
    gan.trainable = False
    with pytest.raises(lm.errors.NotTrainableError, match="trainable"):
        gan.fit(_real(), batch_size=BATCH, verbose=0)
