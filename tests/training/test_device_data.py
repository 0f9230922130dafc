"""steps_per_execution with the training arrays on the device (lamina.training.data.device).

The reference is the same fit with one step per call, and the host path of
steps_per_execution (batches gathered and stacked on the host): for every way fit orders,
weighs and splits array data, the weights must agree BITWISE (the gather inside the call
reads the same values; the steps are the same computations).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from recipe import RecipeTrainStep

import lamina as lm
from lamina import distribution as ld
from lamina.training.data import device as device_data
from lamina.training.data.arrays import ArrayData
from lamina.training.data.device import DeviceData
from lamina.training.data.sources import adapt

N, D, B, K = 150, 6, 16, 4  # 9 full batches + one of 6: calls of 4, 4, then 1 and 1 alone


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, D)).astype("float32"),
            rng.integers(0, 3, size=(N,)).astype("int32"))


def _model(per_execution, inputs="single"):
    """BatchNormalization and Dropout: moving statistics and seed states thread through."""
    lm.reset_names()
    lm.random.set_seed(3)
    if inputs == "dict":
        a, b = lm.Input((4,), name="a"), lm.Input((2,), name="b")
        h = lm.layers.Concatenate()([a, b])
        inp = {"a": a, "b": b}
    else:
        inp = h = lm.Input((D,))
    h = lm.layers.Dense(8, activation="relu", name="hidden")(h)
    h = lm.layers.BatchNormalization(name="bn")(h)
    h = lm.layers.Dropout(0.25, name="drop")(h)
    out = lm.layers.Dense(3, activation="softmax", name="head")(h)
    model = lm.Model(inp, out)
    model.compile(lm.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=per_execution)
    return model


def _state(model):
    """Every variable (seed states included) and the optimizer leaves, as numpy."""
    return ([np.asarray(v.value) for v in model.variables]
            + [np.asarray(a) for a in jax.tree_util.tree_leaves(model._trainer.opt_state)])


def _assert_bitwise(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        assert u.dtype == v.dtype and np.array_equal(u, v)


def _host_path(monkeypatch):
    monkeypatch.setattr(DeviceData, "for_fit", classmethod(lambda cls, *args: None))


CASES = {
    "shuffle": {"shuffle": True},
    "in order": {"shuffle": False},
    "shuffle batch": {"shuffle": "batch"},
    "sample_weight": {"sample_weight": np.linspace(0.1, 2.0, N).astype("float32")},
    "class_weight": {"class_weight": {0: 0.5, 1: 2.0}},
    "validation_split": {"validation_split": 0.2},
    "steps_per_epoch": {"steps_per_epoch": 5},
}


def _fit(per_execution, x, y, inputs="single", **kwargs):
    model = _model(per_execution, inputs)
    history = model.fit(x, y, batch_size=B, epochs=3, verbose=0, seed=11, **kwargs)
    return model, history.history


@pytest.mark.parametrize("case", list(CASES))
def test_on_device_weights_are_bitwise_those_of_one_step_per_call_and_of_the_host_path(
        case, monkeypatch):
    x, y = _data()
    single, single_history = _fit(1, x, y, **CASES[case])
    on_device, history = _fit(K, x, y, **CASES[case])
    assert (on_device._trainer.compiled_steps("multi", "gather")
            and not on_device._trainer.compiled_steps("multi"))
    _assert_bitwise(_state(on_device), _state(single))
    assert history == single_history
    _host_path(monkeypatch)
    host, _ = _fit(K, x, y, **CASES[case])
    assert (host._trainer.compiled_steps("multi")
            and not host._trainer.compiled_steps("multi", "gather"))
    _assert_bitwise(_state(on_device), _state(host))


def _single_steps_on_device(monkeypatch):
    """One step per call gathering from device arrays, as fit does on an accelerator."""
    monkeypatch.setattr(device_data, "gathers_single_steps", lambda: True)


def _no_host_steps(monkeypatch, model):
    def host_step(*args, **kwargs):
        raise AssertionError("the host path (Trainer.train_step) ran")
    monkeypatch.setattr(model._trainer, "train_step", host_step)


@pytest.mark.parametrize("case", list(CASES))
def test_one_step_per_call_on_device_is_bitwise_the_host_path(case, monkeypatch):
    x, y = _data()
    host, host_history = _fit(1, x, y, **CASES[case])
    _single_steps_on_device(monkeypatch)
    model = _model(1)
    _no_host_steps(monkeypatch, model)
    history = model.fit(x, y, batch_size=B, epochs=3, verbose=0, seed=11, **CASES[case])
    assert len(model._trainer.compiled_steps("train", "gather")) == 1  # one configuration
    _assert_bitwise(_state(model), _state(host))
    assert history.history == host_history


def test_one_step_per_call_keeps_the_host_path_on_cpu():
    x, y = _data()
    model, _ = _fit(1, x, y)
    assert jax.default_backend() != "cpu" or not model._trainer.compiled_steps("train", "gather")
    assert device_data.gathers_single_steps() == (jax.default_backend() != "cpu")


def test_one_step_per_call_on_device_freezes_at_the_next_batch(monkeypatch):
    x, y = _data()
    reference = _model(1)
    reference.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False,
                  callbacks=[FreezeAt(2)])
    _single_steps_on_device(monkeypatch)
    model = _model(1)
    _no_host_steps(monkeypatch, model)
    model.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False, callbacks=[FreezeAt(2)])
    _assert_bitwise(_state(model), _state(reference))
    assert len(model._trainer.compiled_steps("train", "gather")) == 2  # one per configuration
    hidden = [np.asarray(v.value) for v in model.get_layer("hidden").weights]
    model.fit(x, y, batch_size=B, epochs=1, verbose=0)
    _assert_bitwise([np.asarray(v.value) for v in model.get_layer("hidden").weights], hidden)


def test_train_step_at_equals_train_step_on_the_gathered_batch():
    x, y = _data()
    index = np.random.default_rng(4).permutation(N)[:B].astype(np.int32)
    at, host = _model(1), _model(1)
    for model in (at, host):
        model._trainer.ensure_ready(x[:B])
    arrays = (jnp.asarray(x), [jnp.asarray(y)], None)
    for _ in range(2):
        logs_at = at._trainer.train_step_at(arrays, index)
        logs = host._trainer.train_step(x[index], [y[index]], None)
    _assert_bitwise(_state(at), _state(host))
    _assert_bitwise([np.asarray(v) for v in logs_at], [np.asarray(v) for v in logs])
    assert at._trainer.iterations == 2


def test_train_step_at_under_a_distribution_gathers_first():
    x, y = _data()
    index = np.arange(B, dtype=np.int32)
    reference, model = _model(1), _model(1)
    for m in (reference, model):
        m._trainer.ensure_ready(x[:B])
    reference._trainer.train_step(x[index], [y[index]], None)
    with ld.scope(ld.DataParallel()):
        model._trainer.train_step_at((x, [y], None), index)
    assert not model._trainer.compiled_steps("train", "gather")
    for got, want in zip(_state(model), _state(reference), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_dict_inputs_and_jax_array_inputs():
    x, y = _data()
    single, _ = _fit(1, {"a": x[:, :4], "b": x[:, 4:]}, y, inputs="dict")
    on_device, _ = _fit(K, {"a": jnp.asarray(x[:, :4]), "b": x[:, 4:]}, jnp.asarray(y),
                        inputs="dict")
    assert on_device._trainer.compiled_steps("multi", "gather")
    _assert_bitwise(_state(on_device), _state(single))


class Recorder(lm.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("end", batch, float(logs["loss"]), float(logs["accuracy"])))


def test_callbacks_see_every_batch_with_its_own_logs():
    x, y = _data()
    recorders = [Recorder(), Recorder()]
    for per_execution, recorder in zip((1, K), recorders, strict=True):
        _model(per_execution).fit(x, y, batch_size=B, epochs=2, verbose=0, seed=11,
                                  callbacks=[recorder])
    assert len(recorders[0].events) == 2 * 2 * 10
    assert recorders[1].events == recorders[0].events


class FreezeAt(lm.callbacks.Callback):
    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            self.model.get_layer("hidden").trainable = False


def test_a_freeze_made_by_a_callback_takes_effect_at_the_next_call():
    x, y = _data()
    # frozen after batch 1's hook: batches 2 and 3 are in the same call, so they still train
    on_device = _model(K)
    on_device.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False,
                  callbacks=[FreezeAt(1)])
    reference = _model(1)
    reference.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False,
                  callbacks=[FreezeAt(K - 1)])
    _assert_bitwise(_state(on_device), _state(reference))
    # one per configuration
    assert len(on_device._trainer.compiled_steps("multi", "gather")) == 2


def test_the_arrays_go_to_the_device_once_per_fit_and_each_call_takes_indices(monkeypatch):
    x, y = _data()
    model = _model(K)
    puts, calls = [], []
    put, steps_at = jax.device_put, model._trainer.train_steps_at

    def counting_put(*args, **kwargs):
        puts.append(args)
        return put(*args, **kwargs)

    def recording(arrays, indices, **kwargs):
        calls.append((arrays, np.asarray(indices)))
        return steps_at(arrays, indices, **kwargs)

    def stacked(*args, **kwargs):
        raise AssertionError("the host path (stacked batches) ran")

    monkeypatch.setattr(jax, "device_put", counting_put)
    monkeypatch.setattr(model._trainer, "train_steps_at", recording)
    monkeypatch.setattr(model._trainer, "train_steps", stacked)
    model.fit(x, y, batch_size=B, epochs=3, verbose=0, seed=11)
    assert len(puts) == 1
    assert len(calls) == 3 * 2  # two calls of K batches per epoch
    assert all(arrays is calls[0][0] for arrays, _ in calls)  # the same device arrays
    assert all(i.shape == (K, B) and i.dtype == np.int32 for _, i in calls)
    epoch = np.concatenate([i.ravel() for _, i in calls[:2]])
    assert len(set(epoch.tolist())) == 2 * K * B  # distinct samples, shuffled
    assert not np.array_equal(epoch, np.arange(2 * K * B))


def test_host_arrays_above_the_size_limit_keep_the_host_path(monkeypatch):
    x, y = _data()
    reference, _ = _fit(K, x, y)
    monkeypatch.setattr(device_data, "MAX_BYTES_UNREPORTED", x.nbytes + y.nbytes - 1)
    host, _ = _fit(K, x, y)
    assert (host._trainer.compiled_steps("multi")
            and not host._trainer.compiled_steps("multi", "gather"))
    _assert_bitwise(_state(host), _state(reference))
    monkeypatch.setattr(device_data, "MAX_BYTES_UNREPORTED", x.nbytes + y.nbytes)
    assert _fit(K, x, y)[0]._trainer.compiled_steps("multi", "gather")


class _Device:
    def __init__(self, stats):
        self.stats = stats

    def memory_stats(self):
        return self.stats


@pytest.mark.parametrize("stats, expected", [
    ({"bytes_limit": 80 << 30, "bytes_in_use": 1 << 30}, 20 << 30),
    (None, 1 << 30),
    ({}, 1 << 30),
])
def test_size_limit_is_a_quarter_of_the_device_memory_or_1_gib(stats, expected):
    assert device_data.max_bytes(_Device(stats)) == expected


def test_jax_arrays_do_not_count_against_the_limit():
    x, y = _data()
    data = ArrayData(jnp.asarray(x), y)
    assert device_data.host_bytes(data) == y.nbytes


def test_other_sources_one_step_per_call_and_distributions_keep_the_host_path(monkeypatch):
    x, y = _data()
    model = _model(K)
    model.fit(x, y, batch_size=B, epochs=1, verbose=0)  # builds the trainer
    trainer = model._trainer
    data = ArrayData(x, y)
    assert isinstance(DeviceData.for_fit(trainer, data, K), DeviceData)
    assert DeviceData.for_fit(trainer, data, 1) is None
    source = adapt(iter([(x, y)]), None, None, model, "fit")
    assert DeviceData.for_fit(trainer, source, K) is None
    with ld.scope(ld.DataParallel()):
        assert DeviceData.for_fit(trainer, data, K) is None
    monkeypatch.setattr(device_data, "gathers_single_steps", lambda: True)
    assert isinstance(DeviceData.for_fit(trainer, data, 1), DeviceData)
    assert DeviceData.for_fit(trainer, source, 1) is None
    with ld.scope(ld.DataParallel()):
        assert DeviceData.for_fit(trainer, data, 1) is None


def test_under_a_distribution_fit_trains_as_without_it():
    x, y = _data()
    reference, _ = _fit(K, x, y)
    model = _model(K)
    with ld.scope(ld.DataParallel()):
        model.fit(x, y, batch_size=B, epochs=3, verbose=0, seed=11)
    assert not model._trainer.compiled_steps("multi", "gather")
    for got, want in zip(_state(model), _state(reference), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_train_steps_at_equals_train_steps_on_the_gathered_batches():
    x, y = _data()
    indices = np.random.default_rng(2).permutation(N)[:3 * B].reshape(3, B).astype(np.int32)
    at, stacked = _model(K), _model(K)
    for model in (at, stacked):
        model._trainer.ensure_ready(x[:B])
    logs_at = at._trainer.train_steps_at((jnp.asarray(x), [jnp.asarray(y)], None), indices)
    logs = stacked._trainer.train_steps(x[indices], [y[indices]], None)
    _assert_bitwise(_state(at), _state(stacked))
    _assert_bitwise([np.asarray(v) for v in logs_at], [np.asarray(v) for v in logs])
    assert at._trainer.iterations == 3


def test_train_steps_at_under_a_distribution_gathers_first():
    x, y = _data()
    indices = np.arange(2 * B, dtype=np.int32).reshape(2, B)
    reference, model = _model(K), _model(K)
    for m in (reference, model):
        m._trainer.ensure_ready(x[:B])
    reference._trainer.train_steps(x[indices], [y[indices]], None)
    with ld.scope(ld.DataParallel()):
        logs = model._trainer.train_steps_at((x, [y], None), indices)
    assert not model._trainer.compiled_steps("multi", "gather")
    assert [np.shape(v) for v in logs] == [(2,), (2,)]
    for got, want in zip(_state(model), _state(reference), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


class CustomStep(RecipeTrainStep, lm.Model):
    """A subclassed model with the documented custom `train_step` recipe."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = lm.layers.Dense(4, activation="tanh", name="hidden")
        self.out = lm.layers.Dense(3, name="out")

    def call(self, x, training=None):
        return self.out(self.hidden(x))


def test_a_custom_train_step_gathers_inside_the_call_too(monkeypatch):
    x, y = _data()
    states = []
    for per_execution, on_device in ((1, False), (K, True), (1, True)):
        if on_device:
            _single_steps_on_device(monkeypatch)
        lm.reset_names()
        lm.random.set_seed(0)
        model = CustomStep(name="custom")
        model.compile(lm.optimizers.SGD(0.1),
                      lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                      steps_per_execution=per_execution)
        model.fit(x, y, batch_size=B, epochs=2, verbose=0, seed=11)
        states.append(_state(model))
        if on_device:
            assert (model._trainer.compiled_steps("multi", "gather") if per_execution > 1
                    else model._trainer.compiled_steps("train", "gather"))
    _assert_bitwise(states[1], states[0])
    _assert_bitwise(states[2], states[0])


def test_backup_and_restore_resumes_mid_epoch_exactly(tmp_path):
    x, y = _data()
    full, _ = _fit(1, x, y)

    class Crash(lm.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model._trainer.iterations >= 16:  # in epoch 2; it resumes at batch 4
                raise KeyboardInterrupt("crash")

    with pytest.raises(KeyboardInterrupt):
        _model(K).fit(x, y, batch_size=B, epochs=3, verbose=0, seed=11, callbacks=[
            lm.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2), Crash()])
    resumed = _model(K)
    resumed.fit(x, y, batch_size=B, epochs=3, verbose=0, seed=11,
                callbacks=[lm.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2)])
    assert resumed._trainer.compiled_steps("multi", "gather")
    _assert_bitwise(_state(resumed), _state(full))
