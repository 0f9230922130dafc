"""One input-validation path (lamina.training.data.checks): the `*_on_batch` methods,
generators, PyDatasets and arrays refuse the same bad data with the same InputSpecError,
before the step runs (the weights stay bit for bit as they were); array-likes (objects with
`__array__`, pandas objects, nested lists of numbers) work as data, with results equal to
numpy arrays'. Label-shape mistakes are refused like Keras refuses them (checked against
Keras 3 on the same inputs).
"""
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import lamina as lm
from lamina.errors import InputSpecError
from lamina.training.data import checks
from lamina.training.data.arrays import check_finite

D, C = 4, 3


class Tensorish:
    """An array of another library: `__array__`, a shape and a dtype numpy cannot read
    (a tf.Tensor's dtype is a tf.DType), no `__dlpack__`."""

    def __init__(self, array):
        self._array = np.asarray(array)
        self.shape = self._array.shape
        self.dtype = f"fake.{self._array.dtype}"

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)

    def __len__(self):
        return len(self._array)


def _data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D)).astype("float32"), rng.integers(0, C, size=n)


def _classifier(loss="sparse_categorical_crossentropy"):
    lm.utils.set_random_seed(1)
    inp = lm.Input((D,))
    model = lm.Model(inp, lm.layers.Dense(C, activation="softmax")(inp))
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss=loss)
    return model


@pytest.fixture(scope="module")
def sparse_model():
    return _classifier()


def _snapshot(model):
    return [np.array(w) for w in model.get_weights()]


def _assert_unchanged(model, before):
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(np.asarray(a), b)


def _generator(x, y, size=4):
    for start in range(0, len(x), size):
        yield x[start:start + size], y[start:start + size]


class _Batches(lm.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return self.x[4 * i:4 * i + 4], self.y[4 * i:4 * i + 4]


def _nan_data():
    x, y = _data()
    x[2, 2] = np.nan  # in the first batch: streamed sources refuse it before any step
    return x, y


def _bad_label_data():
    x, y = _data()
    y[1] = C
    return x, y


# the same bad data through every entry point; each must refuse before its step
ENTRY_POINTS = {
    "train_on_batch": lambda m, x, y: m.train_on_batch(x, y),
    "test_on_batch": lambda m, x, y: m.test_on_batch(x, y),
    "fit arrays": lambda m, x, y: m.fit(x, y, batch_size=4, verbose=0),
    "fit generator": lambda m, x, y: m.fit(_generator(x, y), verbose=0),
    "fit PyDataset": lambda m, x, y: m.fit(_Batches(x, y), verbose=0, shuffle=False),
    "evaluate generator": lambda m, x, y: m.evaluate(_generator(x, y), verbose=0),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("bad, message", [
    (_nan_data, r"NaN or infinite values"),
    (_bad_label_data, r"must be class indices in \[0, 3\).*received labels in \[\d, 3\]"),
])
def test_bad_values_are_refused_before_the_step_by_every_entry_point(sparse_model, entry, bad,
                                                                      message):
    x, y = bad()
    before = _snapshot(sparse_model)
    with pytest.raises(InputSpecError, match=message):
        ENTRY_POINTS[entry](sparse_model, x, y)
    _assert_unchanged(sparse_model, before)


@pytest.mark.parametrize("method", ["train_on_batch", "test_on_batch"])
def test_on_batch_length_mismatch_names_both_counts(sparse_model, method):
    x, y = _data()
    with pytest.raises(InputSpecError, match=rf"Model '\w+': {method}: .*x: 8, y\[0\]: 5"):
        getattr(sparse_model, method)(x, y[:5])


def test_on_batch_sample_weight_length_is_checked(sparse_model):
    x, y = _data()
    with pytest.raises(InputSpecError, match=r"sample_weight: 3"):
        sparse_model.train_on_batch(x, y, sample_weight=np.ones(3, "float32"))


def test_scalars_are_refused_with_a_clear_error(sparse_model):
    x, _ = _data()
    with pytest.raises(InputSpecError, match=r"received a scalar in `y"):
        sparse_model.train_on_batch(x, 1)
    with pytest.raises(InputSpecError, match=r"received a scalar in `y"):
        sparse_model.fit(x, 1, verbose=0)
    with pytest.raises(InputSpecError, match=r"predict_on_batch: .*received a scalar in `x"):
        sparse_model.predict_on_batch(3.0)


def test_categorical_crossentropy_refuses_integer_labels():
    x, y = _data()
    model = _classifier("categorical_crossentropy")
    before = _snapshot(model)
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.train_on_batch(x, y)):
        with pytest.raises(InputSpecError, match=r"expected one-hot .* shape \(\w*8, 3\).*"
                                                 r"received targets of shape \(8, ?1?\).*Sparse"):
            call()
    _assert_unchanged(model, before)


def test_sparse_losses_given_one_hot_rows_say_so(sparse_model):
    x, y = _data()
    one_hot = np.eye(C, dtype="float32")[y]
    for call in (lambda: sparse_model.fit(x, one_hot, verbose=0),
                 lambda: sparse_model.train_on_batch(x, one_hot),
                 lambda: sparse_model.fit(_generator(x, one_hot), verbose=0)):
        with pytest.raises(InputSpecError, match=r"expected integer class labels of shape "
                                                 r"\(\d,\).*received labels of shape \(\d, 3\): "
                                                 r"these look like one-hot rows.*CategoricalCross"):
            call()


@pytest.mark.parametrize("loss, targets", [
    ("categorical_crossentropy", lambda y: y),
    ("sparse_categorical_crossentropy", lambda y: np.eye(C, dtype="float32")[y]),
])
def test_keras_refuses_the_same_label_shapes(loss, targets):
    """The reference: Keras 3 refuses both label-shape mistakes too (a ValueError)."""
    keras = pytest.importorskip("keras")
    x, y = _data()
    reference = keras.Sequential([keras.Input((D,)), keras.layers.Dense(C, "softmax")])
    reference.compile("sgd", loss)
    with pytest.raises(ValueError, match="same shape"):
        reference.fit(x, targets(y), verbose=0)
    with pytest.raises(InputSpecError):
        _classifier(loss).train_on_batch(x, targets(y))


def test_array_likes_lists_and_pandas_train_evaluate_and_predict_as_numpy():
    x, y = _data()
    model = _classifier()
    initial = _snapshot(model)

    def fit(xs, ys):
        model.set_weights(initial)
        model.fit(xs, ys, batch_size=4, epochs=1, shuffle=False, verbose=0)
        return (_snapshot(model), model.evaluate(xs, ys, verbose=0),
                model.predict(xs, verbose=0), model.predict_on_batch(xs),
                model.train_on_batch(xs, ys))

    expected = fit(x, y)
    for label, (xs, ys) in {
        "__array__": (Tensorish(x), Tensorish(y)),
        "lists": (x.tolist(), y.tolist()),
        "pandas": (pd.DataFrame(x), pd.Series(y)),
    }.items():
        weights, *results = fit(xs, ys)
        for a, b in zip(weights, expected[0], strict=True):
            np.testing.assert_array_equal(a, b, err_msg=label)
        for a, b in zip(results, expected[1:], strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=label)


def test_ragged_lists_are_refused_naming_what_is_accepted(sparse_model):
    with pytest.raises(InputSpecError, match=r"nested lists of numbers"):
        sparse_model.predict([[1.0, 2.0, 3.0, 4.0], [1.0]], verbose=0)


def test_generator_of_array_likes_trains_like_arrays():
    x, y = _data()
    model = _classifier()
    initial = _snapshot(model)
    model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    expected = _snapshot(model)
    model.set_weights(initial)
    model.fit(((Tensorish(a), Tensorish(b)) for a, b in _generator(x, y)), verbose=0)
    for a, b in zip(_snapshot(model), expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_deferred_device_check_reports_the_bad_batch_one_batch_late(sparse_model):
    """The accelerator path: flags computed on the device are read at the next batch (or at
    `resolve`), then the batch is checked on the host for the full message."""
    x, y = _data()
    deferred = checks.DeferredChecks()
    trainer = sparse_model._trainer
    deferred.submit(trainer, jnp.asarray(x), [jnp.asarray(y)], None, "fit: batch 0", True, True)
    deferred.resolve()  # a good batch: nothing raised
    bad_x, bad_y = _bad_label_data()
    deferred.submit(trainer, jnp.asarray(bad_x), [jnp.asarray(bad_y)], None, "fit: batch 1",
                    True, True)
    with pytest.raises(InputSpecError, match=r"batch 1 \(checked after its step ran\): labels"):
        deferred.submit(trainer, jnp.asarray(x), [jnp.asarray(y)], None, "fit: batch 2",
                        True, True)
    nan_x, _ = _nan_data()
    deferred.submit(trainer, jnp.asarray(nan_x), [jnp.asarray(y)], None, "fit: batch 3",
                    True, False)
    with pytest.raises(InputSpecError, match=r"batch 3 \(checked after its step ran\): x "
                                             r"contains 1 NaN"):
        deferred.resolve()


def test_the_finite_check_tells_an_overflowing_sum_from_an_infinite_value():
    """check_finite first sums each array (a NaN or inf makes the sum non-finite) and only
    scans element by element when the sum is not finite: large finite values still pass."""
    large = np.full((4, 4), 3e38, "float32")  # sums to inf in float32, every value finite
    check_finite(large, "x")
    large[2, 3] = np.inf
    with pytest.raises(InputSpecError, match=r"x contains 1 NaN or infinite values \(the first "
                                             r"at index \(2, 3\)\)"):
        check_finite(large, "x")
