"""LoRA (issue 18): Keras 3 parity with copied weights, the base frozen by its own flag (no
later layer or model flag retrains it), explain, model targets, adapter-only files with a
base check, merging, scoped freezing of a shared LoRA layer, and a hand-written JAX step."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras comparisons run on Keras's JAX backend")
    return keras


def _values(variables):
    return [np.array(v.value) for v in variables]


PARITY = [
    ("Dense", (3,), (4, 5), "float32"),
    ("EinsumDense", ("abc,cde->abde", (None, 2, 3)), (4, 6, 5), "float32"),
    ("EinsumDense", ("ab,cb->ac", 3), (4, 5), "float32"),  # kernel's last axis contracted
    ("Embedding", (7, 4), (3, 5), "int32"),
    ("Conv1D", (3, 2), (2, 6, 4), "float32"),
    ("Conv2D", (3, 3), (2, 5, 5, 2), "float32"),
]


@pytest.mark.parametrize("cls,args,shape,dtype", PARITY, ids=[p[0] + str(i)
                                                              for i, p in enumerate(PARITY)])
def test_lora_layer_equals_keras_with_copied_weights(keras, cls, args, shape, dtype):
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 7, shape) if dtype == "int32" else rng.normal(size=shape)).astype(dtype)
    klayer, layer = getattr(keras.layers, cls)(*args), getattr(lm.layers, cls)(*args)
    klayer(x), layer(x)
    klayer.enable_lora(2, lora_alpha=3)
    layer.enable_lora(2, lora_alpha=3)
    assert [w.path.split("/")[-1] for w in layer.weights] == [
        w.path.split("/")[-1] for w in klayer.weights]
    assert [tuple(w.shape) for w in layer.weights] == [tuple(w.shape) for w in klayer.weights]
    weights = [rng.normal(size=tuple(w.shape)).astype(np.float32) for w in klayer.weights]
    for variable, value in zip(klayer.weights, weights, strict=True):
        variable.assign(value)
    layer.set_weights(weights)
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(klayer(x)), rtol=1e-5, atol=1e-5)


def test_adapters_start_at_zero_so_outputs_are_unchanged_and_alpha_defaults_to_rank():
    layer = lm.layers.Dense(3)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    before = np.asarray(layer(x))
    layer.enable_lora(4)
    assert layer.lora_alpha == 4 and layer.lora_kernel_a.shape == (5, 4)
    np.testing.assert_array_equal(np.asarray(layer(x)), before)


def _mlp():
    inputs = lm.Input((6,))
    hidden = lm.layers.Dense(8, activation="tanh", name="hidden")
    outputs = lm.layers.Dense(1, name="head")(hidden(inputs))
    return lm.Model(inputs, outputs), hidden


def _data(n=32, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)


def test_base_kernel_stays_bitwise_frozen_through_flags_and_unfreeze_until_asked():
    model, hidden = _mlp()
    x, y = _data()
    model.compile("adam", "mse")
    hidden.enable_lora(2)
    kernel = np.array(hidden.kernel.value)
    b_before = np.array(hidden.lora_kernel_b.value)
    hidden.trainable = False
    hidden.trainable = True
    model.trainable = False
    model.trainable = True
    model.freeze(hidden)
    model.unfreeze(hidden)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(np.array(hidden.kernel.value), kernel)
    assert not np.array_equal(np.array(hidden.lora_kernel_b.value), b_before)
    assert all(w is not hidden.kernel for w in model.trainable_weights)
    text = str(model.explain())
    assert "LoRA is enabled on Dense 'hidden'" in text and "hidden.kernel.trainable = True" in text
    hidden.kernel.trainable = True  # the explicit request
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(np.array(hidden.kernel.value), kernel)


def test_one_step_equals_a_hand_written_jax_sgd_step_on_the_adapters():
    model, hidden = _mlp()
    hidden.enable_lora(2, lora_alpha=4, b_initializer="random_normal")
    head = model.get_layer("head")
    x, y = _data(8)
    params = [np.array(v.value) for v in (hidden.kernel, hidden.bias, hidden.lora_kernel_a,
                                          hidden.lora_kernel_b, head.kernel, head.bias)]

    def loss(trained, frozen_kernel):
        bias, a, b, hk, hb = trained
        h = jnp.tanh(x @ frozen_kernel + (x @ a) @ b * (4 / 2) + bias)
        return jnp.mean((h @ hk + hb - y) ** 2)

    trained = params[1:]
    grads = jax.grad(loss)(trained, params[0])
    expected = [p - 0.1 * g for p, g in zip(trained, grads, strict=True)]
    model.compile(lm.optimizers.SGD(0.1), "mse")
    model.train_on_batch(x, y)
    received = _values((hidden.bias, hidden.lora_kernel_a, hidden.lora_kernel_b, head.kernel,
                        head.bias))
    for r, e in zip(received, expected, strict=True):
        np.testing.assert_allclose(r, e, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.array(hidden.kernel.value), params[0])


def _attention_model():
    inputs = lm.Input((5, 8))
    attended = lm.layers.MultiHeadAttention(2, 4, name="mha")(inputs, inputs)
    pooled = lm.layers.GlobalAveragePooling1D()(attended)
    outputs = lm.layers.Dense(3, name="out")(pooled)
    return lm.Model(inputs, outputs)


def test_model_enable_lora_by_glob_targets_reports_counts_and_trains_only_adapters():
    model = _attention_model()
    total = model.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    report = model.enable_lora(2, targets=["*query*", "*value*"])
    assert [row[0] for row in report.rows] == ["mha/query_dense", "mha/value_dense"]
    # each projection kernel (8, 2, 4): a (8, 2, 2) and b (2, 4)
    assert [row[3] for row in report.rows] == [8 * 2 * 2 + 2 * 4] * 2
    assert report.total_before == total and report.total_after == total + 2 * 40
    assert report.trainable_before == trainable
    assert report.trainable_after == trainable - 2 * 64 + 2 * 40
    assert "mha/query_dense" in repr(report) and "trainable params" in repr(report)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == report.trainable_after


def test_bad_targets_and_states_are_refused_without_changing_anything():
    model = _attention_model()
    with pytest.raises(lm.ConfigurationError, match="'\\*nothing\\*' matches no layer"):
        model.enable_lora(2, targets=["*query*", "*nothing*"])
    assert not any(getattr(layer, "lora_enabled", False) for layer in model.layers)
    with pytest.raises(lm.ConfigurationError, match="positive integer LoRA `rank`"):
        model.enable_lora(0)
    with pytest.raises(lm.LaminaError, match="no layer with LoRA enabled"):
        model.merge_lora()
    model.enable_lora(2, targets="out")
    with pytest.raises(lm.LaminaError, match="already enabled on 'out'"):
        model.enable_lora(2, targets="out")
    with pytest.raises(lm.LaminaError, match="needs the layer built"):
        lm.layers.Dense(2).enable_lora(2)
    with pytest.raises(lm.ConfigurationError, match="constraint"):
        layer = lm.layers.Dense(2, kernel_constraint="non_neg")
        layer.build((None, 3))
        layer.enable_lora(2)


def test_merge_lora_keeps_outputs_removes_adapters_and_restores_the_kernel_flag():
    model = _attention_model()
    model.enable_lora(2, b_initializer="random_normal")
    x = np.random.default_rng(0).normal(size=(4, 5, 8)).astype(np.float32)
    before = np.asarray(model.predict(x, verbose=0))
    merged = model.merge_lora()
    assert "out" in merged and "mha/query_dense" in merged
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), before, atol=1e-5)
    assert not any("lora" in w.path for w in model.weights)
    assert any(w is model.get_layer("out").kernel for w in model.trainable_weights)
    model.compile("adam", "mse")
    model.fit(x, np.zeros((4, 3), np.float32), epochs=1, verbose=0)


def test_adapters_save_alone_and_load_onto_the_matching_base_only(tmp_path):
    model, hidden = _mlp()
    x, y = _data()
    base_weights = model.get_weights()
    hidden.enable_lora(2)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "adapters.lamina"
    model.save_lora_weights(path)
    expected = np.asarray(model.predict(x, verbose=0))

    fresh, _ = _mlp()
    fresh.set_weights(base_weights)
    # the head and the bias trained too: they are not adapters and travel separately
    fresh.get_layer("head").set_weights(model.get_layer("head").get_weights())
    fresh.get_layer("hidden").bias.assign(np.array(model.get_layer("hidden").bias.value))
    fresh.load_lora_weights(path)
    assert fresh.get_layer("hidden").lora_enabled
    np.testing.assert_allclose(np.asarray(fresh.predict(x, verbose=0)), expected, atol=1e-6)

    other, _ = _mlp()  # another initialisation: a different base
    with pytest.raises(lm.SavingError, match="differs from the one the adapters were trained"):
        other.load_lora_weights(path)
    assert not other.get_layer("hidden").lora_enabled
    other.load_lora_weights(path, check_base=False)
    assert other.get_layer("hidden").lora_enabled

    wider = lm.Sequential([lm.Input((6,)), lm.layers.Dense(9, name="hidden")])
    with pytest.raises(lm.SavingError, match="do not fit this model"):
        wider.load_lora_weights(path)
    with pytest.raises(lm.SavingError, match="unexpected member 'config.json'"):
        model.save(tmp_path / "whole.lamina")
        model.load_lora_weights(tmp_path / "whole.lamina")


def test_a_lora_model_round_trips_through_save_and_load_model(tmp_path):
    model, hidden = _mlp()
    hidden.enable_lora(3, lora_alpha=6, b_initializer="random_normal")
    x, _ = _data()
    model.save(tmp_path / "m.lamina")
    loaded = lm.models.load_model(tmp_path / "m.lamina")
    layer = loaded.get_layer("hidden")
    assert layer.lora_enabled and layer.lora_rank == 3 and layer.lora_alpha == 6
    assert not layer.kernel.trainable
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0)),
                                  np.asarray(model.predict(x, verbose=0)))


def test_shared_lora_layer_frozen_in_one_scope_trains_its_adapters_in_another():
    shared = lm.layers.Dense(4, name="shared")
    a_in, b_in = lm.Input((6,)), lm.Input((6,))
    model_a = lm.Model(a_in, lm.layers.Dense(1, name="head_a")(shared(a_in)))
    model_b = lm.Model(b_in, lm.layers.Dense(1, name="head_b")(shared(b_in)))
    shared.enable_lora(2, b_initializer="random_normal")
    model_a.freeze(shared)
    x, y = _data()
    for model in (model_a, model_b):
        model.compile(lm.optimizers.SGD(0.1), "mse")
    adapters = _values((shared.lora_kernel_a, shared.lora_kernel_b))
    model_a.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for before, after in zip(adapters, _values((shared.lora_kernel_a, shared.lora_kernel_b)),
                             strict=True):
        np.testing.assert_array_equal(after, before)
    model_b.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(np.array(shared.lora_kernel_a.value), adapters[0])


def test_partitioned_optimizer_and_freeze_schedule_work_with_adapters():
    model, hidden = _mlp()
    hidden.enable_lora(2, b_initializer="random_normal")
    x, y = _data()
    model.compile(lm.optimizers.Partitioned({"*lora*": 10.0}, default=lm.optimizers.SGD(0.01)),
                  "mse")
    kernel = np.array(hidden.kernel.value)
    schedule = lm.callbacks.FreezeSchedule({0: {"freeze": ["hidden"]}, 1: {"unfreeze": ["hidden"]}},
                                           verbose=0)
    a_before = np.array(hidden.lora_kernel_a.value)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[schedule])
    np.testing.assert_array_equal(np.array(hidden.lora_kernel_a.value), a_before)
    model.fit(x, y, epochs=2, initial_epoch=1, batch_size=8, verbose=0, callbacks=[schedule])
    assert not np.array_equal(np.array(hidden.lora_kernel_a.value), a_before)
    np.testing.assert_array_equal(np.array(hidden.kernel.value), kernel)


def test_adam_keeps_state_only_for_the_adapters_and_what_else_trains():
    model, hidden = _mlp()
    hidden.enable_lora(2)
    model.compile("adam", "mse")
    x, y = _data()
    model.train_on_batch(x, y)
    trained = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    state = sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(model._trainer.opt_state))
    scalars = state - 2 * trained  # Adam: two moments per trained value, plus shared scalars
    assert 0 < scalars < 8, (state, trained)
    assert hidden.kernel.uid not in model._trainer._opt_keys


def test_backup_and_restore_resumes_adapter_training_bit_for_bit(tmp_path):
    def run(callbacks):
        lm.random.set_seed(0)
        lm.reset_names()
        model, hidden = _mlp()
        hidden.enable_lora(2)
        model.compile("adam", "mse")
        x, y = _data()
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)
        return model

    class Crash(lm.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model._trainer.iterations == 7:
                raise KeyboardInterrupt("crash")

    full = run([])
    with pytest.raises(KeyboardInterrupt):
        run([lm.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2), Crash()])
    resumed = run([lm.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2)])
    assert [w.path for w in full.weights] == [w.path for w in resumed.weights]
    for a, b in zip(full.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
