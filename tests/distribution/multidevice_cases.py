"""Distribution tests on 4 CPU devices.

Not collected by the main pytest run (its file name does not start with test_):
`test_multidevice.py` runs this file in a fresh pytest process with
XLA_FLAGS=--xla_force_host_platform_device_count=4, set before jax starts, and with
LAMINA_DISTRIBUTION_EXCHANGE naming a folder shared with the 1-device main process (a
checkpoint written there by one device is resumed here on four, and the other way round).
"""
import os
import shutil

import digits
import jax
import numpy as np
import pytest

import lamina as lm
from lamina import distribution as ld
from lamina.callbacks import BackupAndRestore
from lamina.errors import ConfigurationError, InputSpecError

if jax.device_count() != 4:
    raise RuntimeError(
        f"multidevice_cases.py needs 4 devices, jax sees {jax.device_count()}: run it through "
        "tests/distribution/test_multidevice.py (it sets XLA_FLAGS before jax starts).")


@pytest.fixture(scope="module")
def xy():
    return digits.data()


@pytest.fixture
def exchange():
    """The folder shared with the 1-device process of test_multidevice.py."""
    folder = os.environ.get("LAMINA_DISTRIBUTION_EXCHANGE")
    if not folder:
        raise RuntimeError("LAMINA_DISTRIBUTION_EXCHANGE is not set: run this file through "
                           "tests/distribution/test_multidevice.py.")
    return folder


def _mesh_2x2():
    return ld.DeviceMesh((2, 2), ("batch", "model"))


def _assert_replicated(model, n=4):
    for v in model.weights:
        sharding = v.value.sharding
        assert len(sharding.device_set) == n and sharding.is_fully_replicated, v.path


# -- data parallel ------------------------------------------------------------------------
def test_data_parallel_fit_matches_single_device(xy):
    x, y = xy
    single, model = digits.build(), digits.build()
    h1 = single.fit(x, y, batch_size=128, epochs=2, seed=3, verbose=0)
    with ld.scope(ld.DataParallel()):
        h2 = model.fit(x, y, batch_size=128, epochs=2, seed=3, verbose=0)
    _assert_replicated(model)
    assert digits.max_diff(single.get_weights(), model.get_weights()) < digits.ATOL
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=1e-5)
    assert model._trainer.iterations == single._trainer.iterations == 28


def _forward(weights, x):
    """The digits MLP by hand (numpy, float64): class probabilities."""
    w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in weights)
    logits = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _crossentropy(weights, x, y):
    return float(np.mean(-np.log(_forward(weights, x)[np.arange(len(y)), y])))


def test_data_parallel_batch_apis(xy):
    x, y = xy
    xb, yb = x[:64], y[:64]
    single, model = digits.build(), digits.build()
    data_parallel = ld.DataParallel()
    for _ in range(3):
        with data_parallel.scope():
            loss = model.train_on_batch(xb, yb, return_dict=True)
        assert loss == pytest.approx(single.train_on_batch(xb, yb, return_dict=True), rel=1e-5)
    assert digits.max_diff(single.get_weights(), model.get_weights()) < digits.ATOL
    weights = model.get_weights()
    with data_parallel.scope():
        loss, accuracy = model.test_on_batch(xb, yb)
        assert loss == pytest.approx(_crossentropy(weights, xb, yb), rel=1e-5)
        out = model.predict_on_batch(xb)
        assert isinstance(out, np.ndarray) and out.shape == (64, 10)
        np.testing.assert_allclose(out, _forward(weights, xb), atol=1e-5)
        np.testing.assert_allclose(model.predict(x[:256], batch_size=64, verbose=0),
                                   _forward(weights, x[:256]), atol=1e-5)
        loss, accuracy = model.evaluate(x, y, batch_size=64, verbose=0)
    assert loss == pytest.approx(_crossentropy(weights, x, y), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(_forward(weights, x).argmax(1) == y))


def _bn_dropout_model():
    lm.random.set_seed(5)
    model = lm.Sequential([lm.Input((64,)), lm.layers.Dense(32, name="d1"),
                           lm.layers.BatchNormalization(name="bn"),
                           lm.layers.Dropout(0.3, name="drop"),
                           lm.layers.Dense(10, activation="softmax", name="d2")])
    model.compile(optimizer=lm.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    return model


def test_data_parallel_batchnorm_and_dropout_match_single_device(xy):
    """Batch statistics are those of the global batch and dropout draws the same masks."""
    x, y = xy
    single, model = _bn_dropout_model(), _bn_dropout_model()
    single.fit(x[:512], y[:512], batch_size=64, epochs=1, seed=1, verbose=0)
    with ld.scope(ld.DataParallel()):
        model.fit(x[:512], y[:512], batch_size=64, epochs=1, seed=1, verbose=0)
    assert digits.max_diff(single.get_weights(), model.get_weights()) < digits.ATOL
    moving_mean = model.get_layer("bn").moving_mean.value
    assert moving_mean.sharding.is_fully_replicated


# -- model parallel -----------------------------------------------------------------------
def _wide_model(optimizer):
    lm.random.set_seed(2)
    model = lm.Sequential([lm.Input((8,)),
                           lm.layers.Dense(16, activation="relu", name="wide"),
                           lm.layers.Dense(4, name="proj")])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _wide_layout():
    return ld.ModelParallel(ld.LayoutMap({"wide/kernel": (None, "model"),
                                          "wide/bias": ("model",),
                                          "proj/kernel": ("model", None)}),
                            mesh=_mesh_2x2())


def _reference_grads(x, y, w1, b1, w2, b2):
    """Gradients of mean((relu(x w1 + b1) w2 + b2 - y)^2) by hand (numpy, float64)."""
    x, y, w1, b1, w2, b2 = (np.asarray(a, np.float64) for a in (x, y, w1, b1, w2, b2))
    pre = x @ w1 + b1
    h = np.maximum(pre, 0.0)
    out = h @ w2 + b2
    d_out = 2.0 * (out - y) / out.size
    d_h = (d_out @ w2.T) * (pre > 0)
    return out, [x.T @ d_h, d_h.sum(0), h.T @ d_out, d_out.sum(0)]


def test_model_parallel_dense_outputs_and_gradients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8)).astype(np.float32)
    y = rng.normal(size=(16, 4)).astype(np.float32)
    # SGD with momentum: the first step moves each weight by -gradient (lr 1), and the
    # momentum slots show where the optimizer state lives
    model = _wide_model(lm.optimizers.SGD(1.0, momentum=0.9))
    before = model.get_weights()
    expected_out, grads = _reference_grads(x, y, *before)
    with _wide_layout().scope():
        np.testing.assert_allclose(model.predict_on_batch(x), expected_out, atol=1e-5)
        loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(float(np.mean((expected_out - y) ** 2)), rel=1e-5)
    for old, new, grad in zip(before, model.get_weights(), grads, strict=True):
        np.testing.assert_allclose(old - new, grad, atol=1e-5)
    kernel = model.get_layer("wide").kernel
    assert kernel.value.sharding.spec == jax.sharding.PartitionSpec(None, "model")
    assert {s.data.shape for s in kernel.value.addressable_shards} == {(8, 8)}
    assert model.get_layer("proj").bias.value.sharding.is_fully_replicated
    trace = model._trainer.opt_state.inner_state[0].trace
    assert trace[kernel.uid].sharding == kernel.value.sharding


# -- trainability under sharding -----------------------------------------------------------
def _shards_equal(array, host):
    """Every addressable shard of `array` is bit-for-bit the matching slice of `host`."""
    shards = array.addressable_shards
    assert len(shards) == 4
    return all(np.array_equal(np.asarray(s.data), host[s.index]) for s in shards)


def _adam_mu(model):
    """Adam's first moments (uid -> array) inside the trainer's optax state."""
    return model._trainer.opt_state.inner_state[0].mu


def _freeze_sequence(distribution):
    """Flags, live changes and a scoped freeze, asserting after each step that what is frozen
    is bit-for-bit unchanged on every device (weights and Adam moments)."""
    import contextlib

    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 8)).astype(np.float32)
    y = rng.normal(size=(16, 4)).astype(np.float32)
    model = _wide_model(lm.optimizers.Adam(0.01))
    within = distribution.scope if distribution is not None else contextlib.nullcontext
    check = _shards_equal if distribution is not None else np.array_equal
    wide, proj = model.get_layer("wide"), model.get_layer("proj")
    wide.trainable = False
    frozen = [np.array(v.value) for v in wide.weights]
    with within():
        model.train_on_batch(x, y)
    assert all(check(v.value, host) for v, host in zip(wide.weights, frozen, strict=True))
    wide.trainable = True  # live: the next step trains it, no recompile asked of the user
    with within():
        model.train_on_batch(x, y)
    assert not np.array_equal(np.asarray(wide.kernel.value), frozen[0])
    wide.trainable = False  # frozen again: weights and moments are kept bit for bit
    weights = [np.array(v.value) for v in wide.weights]
    moments = {v.uid: np.array(_adam_mu(model)[v.uid]) for v in wide.weights}
    with within():
        model.train_on_batch(x, y)
    assert all(check(v.value, host) for v, host in zip(wide.weights, weights, strict=True))
    assert all(check(_adam_mu(model)[uid], host) for uid, host in moments.items())
    wide.trainable = True
    outer = lm.Model(model.inputs, model.outputs, name="outer")  # proj frozen in its scope
    outer.compile(optimizer=lm.optimizers.Adam(0.01), loss="mse")
    outer.freeze(proj)
    kept = [np.array(v.value) for v in proj.weights]
    with within():
        outer.train_on_batch(x, y)
    assert all(check(v.value, host) for v, host in zip(proj.weights, kept, strict=True))
    with within():  # proj still trains in its own model
        model.train_on_batch(x, y)
    assert not np.array_equal(np.asarray(proj.kernel.value), kept[0])
    return model.get_weights()


@pytest.fixture(scope="module")
def single_device_freeze_sequence():
    return _freeze_sequence(None)


@pytest.mark.parametrize("make_distribution", [ld.DataParallel, _wide_layout],
                         ids=["data_parallel", "model_parallel"])
def test_frozen_variables_bitwise_unchanged_on_every_device(make_distribution,
                                                             single_device_freeze_sequence):
    sharded = _freeze_sequence(make_distribution())
    assert digits.max_diff(single_device_freeze_sequence, sharded) < digits.ATOL


# -- checkpoints: N devices -> M devices ------------------------------------------------------
def _resume(x, y, backup_dir):
    model = digits.build(seed=11)  # other initial weights: the backup must replace them
    model.fit(x, y, batch_size=128, epochs=2, seed=4, verbose=0,
              callbacks=[BackupAndRestore(backup_dir, delete_checkpoint=False)])
    return model


def test_one_device_checkpoint_resumes_on_four_devices(xy, exchange, tmp_path):
    x, y = xy
    expected = np.load(os.path.join(exchange, "one_device_expected.npz"))
    for n, distribution in enumerate((ld.DataParallel(), ld.ModelParallel(
            {"hidden/kernel": (None, "model"), "head/kernel": ("model", None)},
            mesh=_mesh_2x2()))):
        backup = shutil.copytree(os.path.join(exchange, "backup_one_device"), tmp_path / str(n))
        with distribution.scope():
            model = _resume(x, y, backup)
        assert model._trainer.iterations == 28
        got = model.get_weights()
        assert digits.max_diff([expected[f"w{i}"] for i in range(len(got))], got) < digits.ATOL
        assert len(model.get_layer("hidden").kernel.value.sharding.device_set) == 4


def test_four_device_checkpoint_for_the_one_device_process(xy, exchange):
    """Write a backup after one epoch on 4 devices; the main process resumes it on one."""
    x, y = xy
    model = digits.build()
    with ld.scope(ld.DataParallel()):
        model.fit(x, y, batch_size=128, epochs=1, seed=4, verbose=0,
                  callbacks=[BackupAndRestore(os.path.join(exchange, "backup_four_devices"),
                                              delete_checkpoint=False)])
    assert len(os.listdir(os.path.join(exchange, "backup_four_devices"))) == 1


def test_four_device_checkpoint_restores_without_a_distribution_in_this_process(
        xy, exchange, tmp_path):
    x, y = xy
    expected = np.load(os.path.join(exchange, "one_device_expected.npz"))
    model = digits.build()
    with ld.scope(_mesh_layout_for_digits()):
        model.fit(x, y, batch_size=128, epochs=1, seed=4, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path / "b", delete_checkpoint=False)])
        model.save(tmp_path / "sharded.lamina")
    loaded = lm.models.load_model(tmp_path / "sharded.lamina")  # gathered: plain arrays
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        assert np.array_equal(a, b)
    resumed = _resume(x, y, tmp_path / "b")  # one device (no distribution)
    got = resumed.get_weights()
    assert digits.max_diff([expected[f"w{i}"] for i in range(len(got))], got) < digits.ATOL
    assert len(resumed.get_layer("hidden").kernel.value.sharding.device_set) == 1


def _mesh_layout_for_digits():
    return ld.ModelParallel(ld.LayoutMap({"hidden/kernel": (None, "model"),
                                          "hidden/bias": ("model",)}), mesh=_mesh_2x2())


# -- the distribution setting ---------------------------------------------------------------
def test_compile_argument_wins_over_the_scope(xy):
    x, y = xy
    model = digits.build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  distribution=ld.DataParallel(devices=jax.devices()[:2]))
    with ld.scope(ld.DataParallel()):
        model.fit(x[:256], y[:256], batch_size=64, epochs=1, verbose=0)
    _assert_replicated(model, 2)


# -- bad input ------------------------------------------------------------------------------
def test_batch_that_the_mesh_does_not_divide(xy):
    x, y = xy
    model = digits.build()
    with ld.scope(ld.DataParallel()):
        with pytest.raises(InputSpecError, match=r"batch of 6 samples cannot be split evenly "
                           r"over the 4 devices of mesh axis 'batch'"):
            model.fit(x[:60], y[:60], batch_size=6, verbose=0)
        with pytest.raises(InputSpecError, match=r"batch of 2 samples \(the last batch: 66 "
                           r"samples in batches of 32 leave 2\)"):
            model.fit(x[:66], y[:66], batch_size=32, verbose=0)
        with pytest.raises(InputSpecError, match=r"batch of 10 samples"):
            model.train_on_batch(x[:10], y[:10])
        with pytest.raises(InputSpecError, match=r"batch of 5 samples"):
            model.predict(x[:5], verbose=0)
        with pytest.raises(InputSpecError, match=r"batch of 3 samples"):
            model.evaluate(x[:3], y[:3], verbose=0)
    with ld.scope(_mesh_layout_for_digits()), pytest.raises(  # a batch axis of 2 devices
            InputSpecError, match=r"batch of 3 samples .* 2 devices of mesh axis 'batch'"):
        model.test_on_batch(x[:3], y[:3])


def test_layout_that_does_not_fit_the_variables(xy):
    x, y = xy
    model = digits.build()
    bad = ld.ModelParallel({"head/kernel": (None, "model"), "hidden/kernel": (None, "model")},
                           mesh=ld.DeviceMesh((1, 4), ("batch", "model")))
    with pytest.raises(ConfigurationError, match=r"'head/kernel' has shape \(32, 10\); "
                       r"dimension 1 \(10\) cannot be split into 4 equal parts"), bad.scope():
        model.fit(x[:64], y[:64], batch_size=32, verbose=0)


def test_devices_of_two_meshes_cannot_be_mixed(xy):
    a = ld.DeviceMesh((2, 2), ("batch", "model"))
    b = ld.DeviceMesh((2, 2), ("batch", "model"), jax.devices()[::-1])
    with pytest.raises(ConfigurationError, match=r"layout map was written for DeviceMesh"):
        ld.ModelParallel(ld.LayoutMap({"kernel": (None, "model")}, mesh=a), mesh=b)
    with pytest.raises(ConfigurationError, match=r"device ids \[1\] appear more than once"):
        ld.DeviceMesh((2, 2), ("batch", "model"), jax.devices()[:3] + [jax.devices()[1]])
    # a shared layer last trained by another model on other devices
    x, y = xy
    model = digits.build()
    head = model.get_layer("head")
    with ld.scope(ld.DataParallel(devices=jax.devices()[2:])):
        model.train_on_batch(x[:64], y[:64])
    other = lm.Sequential([lm.Input((32,)), head], name="other")
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with ld.scope(ld.DataParallel(devices=jax.devices()[:2])):
        other.train_on_batch(x[:64, :32], y[:64])
    with pytest.raises(ConfigurationError, match=r"Model 'digits_mlp': its variables live on "
                       r"devices of different meshes \(\['hidden/kernel', 'hidden/bias'\] on "
                       r"devices \[2, 3\]; \['head/kernel', 'head/bias'\] on devices \[0, 1\]\)"):
        model.predict_on_batch(x[:64])
    with ld.scope(_mesh_layout_for_digits()):  # one distribution moves them all
        model.train_on_batch(x[:64], y[:64])
    assert model.get_layer("hidden").kernel.value.sharding.spec == jax.sharding.PartitionSpec(
        None, "model")
    for v in model.weights:
        assert len(v.value.sharding.device_set) == 4, v.path
