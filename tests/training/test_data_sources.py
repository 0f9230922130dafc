"""Data sources of fit / evaluate / predict (Keras 3 semantics): every source trains to the
same weights as the equivalent arrays, and steps_per_epoch, validation_steps,
validation_freq, validation_split, class_weight, sample_weight and shuffle ("batch"
included) behave as in Keras.

Equality with the array path is bitwise (assert_array_equal): with shuffle=False every
source hands the step the same float32 batches, so the same compiled step gives the same
bits on CPU. Where the batch content is the same but the order inside a batch differs
(shuffle="batch"), the tolerance is stated.
"""
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm
from lamina.training import loop
from lamina.training.data import batches
from lamina.training.data.arrays import ArrayData
from lamina.training.data.sources import PyDataset

pd = pytest.importorskip("pandas")

N, D, B = 24, 3, 4  # 6 batches of 4


def _data(n=N, d=D, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ np.arange(1, d + 1, dtype="float32"))[:, None] + 0.5
    return x, y.astype("float32")


def _class_data(n=N, d=D, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype("float32"),
            rng.integers(0, classes, size=(n,)).astype("int32"))


_INITIAL = {}


def _model(kind="regressor"):
    """A compiled model; every model of a kind starts from the same weights."""
    inp = lm.Input((D,))
    if kind == "regressor":
        model = lm.Model(inp, lm.layers.Dense(1)(lm.layers.Dense(5, activation="tanh")(inp)))
        model.compile(optimizer=lm.optimizers.SGD(0.05), loss="mse")
    else:
        model = lm.Model(inp, lm.layers.Dense(3)(lm.layers.Dense(5, activation="tanh")(inp)))
        model.compile(optimizer=lm.optimizers.SGD(0.1),
                      loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True))
    if kind not in _INITIAL:
        _INITIAL[kind] = [np.array(w) for w in model.get_weights()]
    model.set_weights(_INITIAL[kind])
    return model


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def _assert_same(a, b):
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def _fit_arrays(x, y, kind="regressor", **kwargs):
    model = _model(kind)
    model.fit(x, y, batch_size=B, shuffle=False, verbose=0, **kwargs)
    return _weights(model)


def _batches(x, y, sw=None, size=B):
    for start in range(0, len(x), size):
        part = slice(start, start + size)
        yield (x[part], y[part]) if sw is None else (x[part], y[part], sw[part])


class ListDataset(PyDataset):
    """A PyDataset over arrays that records which batches are read and the epoch hooks."""

    def __init__(self, x, y, size=B, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.size = x, y, size
        self.read, self.epochs_ended = [], 0

    def __len__(self):
        return (len(self.x) + self.size - 1) // self.size

    def __getitem__(self, index):
        self.read.append(index)
        part = slice(index * self.size, (index + 1) * self.size)
        return self.x[part], self.y[part]

    def on_epoch_end(self):
        self.epochs_ended += 1


class Loader:
    """A re-iterable object with a length, like a PyTorch DataLoader."""

    def __init__(self, x, y, wrap=lambda a: a):
        self.x, self.y, self.wrap = x, y, wrap

    def __len__(self):
        return (len(self.x) + B - 1) // B

    def __iter__(self):
        for xb, yb in _batches(self.x, self.y):
            yield [self.wrap(xb), self.wrap(yb)]  # DataLoader's default collate gives lists


class FakeTensor:
    """A framework tensor seen duck-typed: `.numpy()` (tf.Tensor) and `.detach()` (torch)."""

    def __init__(self, value):
        self.value = value

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return np.array(self.value)


# -- every source gives the weights of the arrays ----------------------------------------
def test_generator_of_pairs_trains_as_arrays():
    x, y = _data()
    reference = _fit_arrays(x, y)
    model = _model()
    model.fit(_batches(x, y), verbose=0)
    _assert_same(_weights(model), reference)


def test_generator_with_sample_weight_trains_as_arrays_with_sample_weight():
    x, y = _data()
    sw = np.random.default_rng(3).uniform(0.1, 2.0, size=N).astype("float32")
    reference = _fit_arrays(x, y, sample_weight=sw)
    model = _model()
    model.fit(_batches(x, y, sw), verbose=0)
    _assert_same(_weights(model), reference)


def test_pydataset_trains_as_arrays_and_calls_on_epoch_end_each_epoch():
    x, y = _data()
    reference = _fit_arrays(x, y, epochs=2)
    model = _model()
    dataset = ListDataset(x, y, workers=2)
    model.fit(dataset, epochs=2, shuffle=False, verbose=0)
    _assert_same(_weights(model), reference)
    assert dataset.read == list(range(6)) * 2 and dataset.epochs_ended == 2
    assert dataset.workers == 2 and dataset.num_batches == 6


def test_reiterable_loader_of_framework_tensors_trains_as_arrays_over_epochs():
    x, y = _data()
    reference = _fit_arrays(x, y, epochs=3)
    model = _model()
    model.fit(Loader(x, y, wrap=FakeTensor), epochs=3, verbose=0)  # a new pass each epoch
    _assert_same(_weights(model), reference)


def test_dataframe_and_series_train_as_arrays():
    x, y = _data()
    reference = _fit_arrays(x, y)
    model = _model()
    model.fit(pd.DataFrame(x, columns=list("abc")), pd.Series(y[:, 0]).to_frame(),
              batch_size=B, shuffle=False, verbose=0)
    _assert_same(_weights(model), reference)
    series_model = _model()
    series_model.fit(pd.DataFrame(x), pd.DataFrame(y), batch_size=B, shuffle=False, verbose=0)
    _assert_same(_weights(series_model), reference)


def test_jax_arrays_train_as_numpy_arrays():
    x, y = _data()
    reference = _fit_arrays(x, y)
    _assert_same(_fit_arrays(jnp.asarray(x), jnp.asarray(y)), reference)


def test_dict_inputs_from_a_generator_train_as_dict_arrays():
    x, y = _data()
    a, b = lm.Input((2,), name="a"), lm.Input((1,), name="b")
    out = lm.layers.Dense(1)(lm.layers.Concatenate()([a, b]))

    def build():
        model = lm.Model({"a": a, "b": b}, out)
        model.compile(optimizer=lm.optimizers.SGD(0.05), loss="mse")
        return model

    first = build()
    start = _weights(first)
    first.fit({"a": x[:, :2], "b": x[:, 2:]}, y, batch_size=B, shuffle=False, verbose=0)
    second = build()
    second.set_weights(start)
    second.fit(({"a": xb[:, :2], "b": xb[:, 2:]}, yb) for xb, yb in _batches(x, y))
    _assert_same(_weights(second), _weights(first))


# -- steps_per_epoch ---------------------------------------------------------------------
def test_steps_per_epoch_reads_an_endless_generator_on_across_epochs():
    x, y = _data()

    def endless():
        while True:
            yield from _batches(x, y)

    reference = _fit_arrays(x, y, epochs=1)  # batches 0..5 once
    model = _model()
    batch_ends = []
    history = model.fit(endless(), steps_per_epoch=3, epochs=2, verbose=0, callbacks=[
        lm.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: batch_ends.append(b))])
    _assert_same(_weights(model), reference)  # epoch 2 continued with batches 3..5
    assert batch_ends == [0, 1, 2, 0, 1, 2] and history.params["steps"] == 3


def test_steps_per_epoch_with_arrays_continues_the_pass_as_keras():
    x, y = _data()
    reference = _fit_arrays(x, y, epochs=1)  # 6 batches
    _assert_same(_fit_arrays(x, y, epochs=3, steps_per_epoch=2), reference)


def test_steps_per_epoch_limits_a_finite_source():
    x, y = _data()
    reference = _fit_arrays(x[:8], y[:8])  # the first 2 batches
    model = _model()
    model.fit(ListDataset(x, y), steps_per_epoch=2, shuffle=False, verbose=0)
    _assert_same(_weights(model), reference)


# -- shuffle -----------------------------------------------------------------------------
def test_shuffle_batch_keeps_batch_contents_and_shuffles_within():
    data = ArrayData(np.arange(10)[:, None], np.arange(10))
    rng = np.random.default_rng(0)
    epoch = [xb[:, 0] for xb, _, _ in data.batches(4, shuffle="batch", rng=rng)]
    assert [sorted(b.tolist()) for b in epoch] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert any(b.tolist() != sorted(b.tolist()) for b in epoch)


@pytest.mark.parametrize("shuffle", [True, "batch"])
def test_shuffling_without_a_random_generator_is_refused(shuffle):
    data = ArrayData(np.arange(10)[:, None], np.arange(10))
    with pytest.raises(lm.ConfigurationError, match="needs `rng`"):
        next(data.batches(4, shuffle=shuffle))


def test_shuffle_batch_trains_as_unshuffled_batches_up_to_summation_order():
    x, y = _data()
    reference = _fit_arrays(x, y, epochs=2)
    model = _model()
    model.fit(x, y, batch_size=B, epochs=2, shuffle="batch", verbose=0)
    for got, want in zip(_weights(model), reference, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_shuffle_true_visits_every_pydataset_batch_once_in_a_new_order():
    x, y = _data()
    dataset = ListDataset(x, y)
    _model().fit(dataset, epochs=3, shuffle=True, verbose=0)
    epochs = [dataset.read[i:i + 6] for i in range(0, 18, 6)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert any(e != list(range(6)) for e in epochs)


# -- validation --------------------------------------------------------------------------
def _numpy_mse(model, x, y):
    return float(np.mean((model.predict(x, verbose=0) - y) ** 2))


def test_validation_generator_with_validation_steps_and_freq():
    x, y = _data()
    xv, yv = _data(8, seed=1)

    def endless_validation():
        while True:
            yield from _batches(xv, yv)

    model = _model()
    seen = {}

    def record(epoch, logs):
        seen[epoch] = ("val_loss" in logs, logs.get("val_loss"),
                       _numpy_mse(model, xv, yv) if "val_loss" in logs else None)

    history = model.fit(x, y, batch_size=B, epochs=4, verbose=0,
                        validation_data=endless_validation(), validation_steps=2,
                        validation_freq=2,
                        callbacks=[lm.callbacks.LambdaCallback(on_epoch_end=record)])
    assert [seen[e][0] for e in range(4)] == [False, True, False, True]
    assert len(history.history["val_loss"]) == 2
    for e in (1, 3):
        np.testing.assert_allclose(seen[e][1], seen[e][2], rtol=1e-5)


def test_validation_freq_list_names_one_based_epochs():
    x, y = _data()
    model = _model()
    validated = []
    model.fit(x, y, batch_size=B, epochs=4, verbose=0, validation_data=(x[:8], y[:8]),
              validation_freq=[1, 4], callbacks=[lm.callbacks.LambdaCallback(
                  on_epoch_end=lambda e, logs: validated.append("val_loss" in logs))])
    assert validated == [True, False, False, True]


def test_validation_split_of_a_pydataset_holds_out_its_last_batches():
    x, y = _data()
    dataset = ListDataset(x, y)
    model = _model()
    history = model.fit(dataset, validation_split=1 / 3, shuffle=False, verbose=0)
    assert sorted(set(dataset.read)) == list(range(6))
    train_reads = [i for i in dataset.read if i < 4]
    assert train_reads == [0, 1, 2, 3]
    _assert_same(_weights(model), _fit_arrays(x[:16], y[:16]))
    np.testing.assert_allclose(history.history["val_loss"][0],
                               _numpy_mse(model, x[16:], y[16:]), rtol=1e-5)


def test_validation_split_of_a_dataframe_takes_the_last_rows():
    x, y = _data()
    model = _model()
    model.fit(pd.DataFrame(x), pd.DataFrame(y), batch_size=B, validation_split=0.25,
              shuffle=False, verbose=0)
    _assert_same(_weights(model), _fit_arrays(x[:18], y[:18]))


# -- class_weight ------------------------------------------------------------------------
def test_class_weight_equals_the_sample_weights_it_stands_for():
    x, labels = _class_data()
    class_weight = {0: 0.5, 1: 2.0}  # class 2 missing: weight 1 (Keras)
    expected = np.array([{0: 0.5, 1: 2.0, 2: 1.0}[int(c)] for c in labels], "float32")
    reference = _fit_arrays(x, labels, kind="classifier", sample_weight=expected)
    _assert_same(_fit_arrays(x, labels, kind="classifier", class_weight=class_weight),
                 reference)
    from_generator = _model("classifier")
    from_generator.fit(_batches(x, labels), class_weight=class_weight, verbose=0)
    _assert_same(_weights(from_generator), reference)


def test_class_weight_reads_one_hot_targets_by_argmax():
    x, labels = _class_data()
    one_hot = np.eye(3, dtype="float32")[labels]
    expected = np.array([{0: 3.0, 1: 1.0, 2: 0.25}[int(c)] for c in labels], "float32")
    models = []
    for kwargs in ({"sample_weight": expected}, {"class_weight": {0: 3.0, 2: 0.25}}):
        model = _model("classifier")
        model.compile(optimizer=lm.optimizers.SGD(0.1),
                      loss=lm.losses.CategoricalCrossentropy(from_logits=True))
        model.fit(x, one_hot, batch_size=B, shuffle=False, verbose=0, **kwargs)
        models.append(_weights(model))
    _assert_same(*models)


# -- evaluate / predict ------------------------------------------------------------------
def test_evaluate_on_a_generator_with_steps_matches_numpy():
    x, y = _data()
    model = _model()

    def endless():
        while True:
            yield from _batches(x, y)

    loss = model.evaluate(endless(), steps=2, verbose=0)
    np.testing.assert_allclose(loss, _numpy_mse(model, x[:8], y[:8]), rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(ListDataset(x, y), verbose=0),
                               _numpy_mse(model, x, y), rtol=1e-5)


def test_predict_on_generators_datasets_and_frames_matches_arrays():
    x, y = _data()
    model = _model()
    expected = model.predict(x, batch_size=B, verbose=0)
    np.testing.assert_array_equal(model.predict((xb for xb, _ in _batches(x, y)), verbose=0),
                                  expected)
    np.testing.assert_array_equal(model.predict(_batches(x, y), verbose=0), expected)
    np.testing.assert_array_equal(model.predict(ListDataset(x, y), verbose=0), expected)
    np.testing.assert_array_equal(model.predict(Loader(x, y, FakeTensor), verbose=0), expected)
    np.testing.assert_array_equal(model.predict(pd.DataFrame(x), batch_size=B, verbose=0),
                                  expected)
    head = loop.predict(model, _batches(x, y), steps=2, verbose=0)
    np.testing.assert_array_equal(head, expected[:8])


# -- prefetch ----------------------------------------------------------------------------
def test_batches_move_to_the_device_one_batch_ahead_of_their_step():
    pulled = []

    def source():
        for i in range(3):
            pulled.append(i)
            yield i, (np.full((2, 1), i, "float32"), None, None)

    delivered = []
    for index, (xb, _, _) in batches.prefetched(source(), enabled=True, min_bytes=0):
        delivered.append((index, int(xb[0, 0]), list(pulled)))
        assert isinstance(xb, jnp.ndarray)
    # when batch k is handed to its step, batch k + 1 is already on its way to the device
    assert delivered == [(0, 0, [0, 1]), (1, 1, [0, 1, 2]), (2, 2, [0, 1, 2])]
    small = [b for _, (b, _, _) in batches.prefetched(source(), enabled=True, min_bytes=1 << 20)]
    assert all(isinstance(b, np.ndarray) for b in small)  # small batches go with their step


def test_no_warning_for_a_finite_source_read_to_its_end():
    x, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _model().fit(Loader(x, y), epochs=2, steps_per_epoch=6, verbose=0)


# -- steps_per_execution -----------------------------------------------------------------
def _fit_recording(source, per_execution, **kwargs):
    """Fit with `per_execution` batches per compiled call; returns the weights, the history
    and every (batch index, loss) that on_train_batch_end saw."""
    model = _model("classifier")
    model.compile(optimizer=lm.optimizers.SGD(0.1),
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=per_execution)
    seen = []
    history = model.fit(source, verbose=0, callbacks=[lm.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append((batch, float(logs["loss"]))))],
        **kwargs)
    return _weights(model), history.history["loss"], seen


@pytest.mark.parametrize("as_generator", [False, True])
def test_steps_per_execution_trains_as_one_step_per_call_and_reports_every_batch(
        as_generator):
    x, labels = _class_data(n=22)  # batches 4, 4, 4, 4, 4, 2: runs of 4, then 1, then 1

    def source():
        if as_generator:
            return _batches(x, labels)
        return x

    kwargs = {} if as_generator else {"y": labels, "batch_size": B, "shuffle": False}
    single = _fit_recording(source(), 1, **kwargs)
    grouped = _fit_recording(source(), 4, **kwargs)
    # the scan runs the same computations; fusion across its body does not promise bits
    for got, want in zip(grouped[0], single[0], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grouped[1], single[1], rtol=1e-6)
    assert [b for b, _ in grouped[2]] == [b for b, _ in single[2]] == list(range(6))
    np.testing.assert_allclose([v for _, v in grouped[2]], [v for _, v in single[2]],
                               rtol=1e-6)


def test_steps_per_execution_groups_only_equal_shapes():
    items = [(i, (np.ones((n, 2), "float32"), [np.ones(n)], None))
             for i, n in enumerate([4, 4, 4, 4, 4, 2])]
    runs = [(meta, np.shape(batch[0])) for meta, batch in batches.executions(iter(items), 3)]
    assert runs == [((0, 3), (3, 4, 2)), ((3, 2), (2, 4, 2)), ((5, 1), (2, 2))]
