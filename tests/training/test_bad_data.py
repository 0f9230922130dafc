"""Bad data in fit / evaluate / predict: each case fails with an error that says what was
expected and what was received, before any training where the data allows it, or follows
Keras's behaviour where it cannot be known in advance (a generator that ends early; NaN in
streamed batches when `TerminateOnNaN` asks for Keras's behaviour). The same checks through
every entry point: tests/training/test_input_checks.py.
"""
import math

import numpy as np
import pytest

import lamina as lm
from lamina.errors import InputSpecError

D = 3


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, D)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True)).astype("float32")


def _regressor():
    inp = lm.Input((D,))
    model = lm.Model(inp, lm.layers.Dense(1)(inp))
    model.compile(optimizer=lm.optimizers.SGD(0.01), loss="mse")
    return model


def _classifier(loss=None, classes=3):
    inp = lm.Input((D,))
    model = lm.Model(inp, lm.layers.Dense(classes, name="scores")(inp))
    model.compile(optimizer=lm.optimizers.SGD(0.1),
                  loss=loss or lm.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _unchanged(model, before):
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(np.asarray(a), b)


def _snapshot(model):
    return [np.array(w) for w in model.get_weights()]


def _batches(x, y, size=4):
    for start in range(0, len(x), size):
        yield x[start:start + size], y[start:start + size]


# -- NaN / inf ---------------------------------------------------------------------------
def test_nan_in_array_inputs_is_refused_before_training():
    x, y = _data()
    x[5, 1] = np.nan
    model = _regressor()
    model.build((None, D))
    before = _snapshot(model)
    with pytest.raises(InputSpecError, match=r"fit x contains 1 NaN or infinite values "
                                             r"\(the first at index \(5, 1\)\).*check_finite"):
        model.fit(x, y, verbose=0)
    _unchanged(model, before)


def test_inf_in_targets_sample_weight_and_validation_data_is_refused():
    x, y = _data()
    bad_y = y.copy()
    bad_y[2] = np.inf
    with pytest.raises(InputSpecError, match="fit y contains 1 NaN or infinite"):
        _regressor().fit(x, bad_y, verbose=0)
    sw = np.ones(16, "float32")
    sw[0] = np.nan
    with pytest.raises(InputSpecError, match="fit sample_weight contains 1 NaN"):
        _regressor().fit(x, y, sample_weight=sw, verbose=0)
    with pytest.raises(InputSpecError, match="validation y contains 1 NaN"):
        _regressor().fit(x, y, validation_data=(x, bad_y), verbose=0)
    with pytest.raises(InputSpecError, match="evaluate x contains"):
        _regressor().evaluate(np.full((4, D), np.nan, "float32"), y[:4], verbose=0)


def test_check_finite_false_trains_on_to_a_nan_loss():
    x, y = _data()
    x[5, 1] = np.nan
    history = _regressor().fit(x, y, epochs=1, verbose=0, check_finite=False)
    assert math.isnan(history.history["loss"][0])


def test_terminate_on_nan_in_the_callbacks_selects_keras_behaviour():
    x, y = _data()
    x[5, 1] = np.nan  # in the second batch of 4
    seen = []
    history = _regressor().fit(
        x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
        callbacks=[lm.callbacks.TerminateOnNaN(), lm.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: seen.append(batch))])
    assert seen == [0, 1] and history.epoch == [0]


def test_nan_in_a_generator_gives_a_nan_loss_that_terminate_on_nan_stops():
    x, y = _data()
    x[5, 1] = np.nan
    seen = []
    _regressor().fit(_batches(x, y), verbose=0, callbacks=[
        lm.callbacks.TerminateOnNaN(),
        lm.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))])
    assert seen == [0, 1]


# -- generators that end early -----------------------------------------------------------
def test_a_generator_that_ends_early_warns_and_ends_training_cleanly():
    x, y = _data()  # 4 batches
    batch_ends, epoch_ends = [], []
    with pytest.warns(UserWarning, match="Your input ran out of data; interrupting training"):
        history = _regressor().fit(
            _batches(x, y), steps_per_epoch=6, epochs=3, verbose=0,
            callbacks=[lm.callbacks.LambdaCallback(
                on_train_batch_end=lambda b, logs: batch_ends.append(b),
                on_epoch_end=lambda e, logs: epoch_ends.append(e))])
    assert batch_ends == [0, 1, 2, 3] and epoch_ends == [0] and history.epoch == [0]
    assert math.isfinite(history.history["loss"][0])


def test_a_generator_read_to_its_end_leaves_nothing_for_a_second_epoch():
    x, y = _data()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = _regressor().fit(_batches(x, y), epochs=2, verbose=0)
    assert history.epoch == [0]


def test_a_finite_reiterable_shorter_than_steps_per_epoch_warns_each_epoch():
    x, y = _data()
    batches = list(_batches(x, y))  # a list of (x, y) pairs would be read as arrays
    loader = type("Loader", (), {"__iter__": lambda self: iter(batches)})()
    with pytest.warns(UserWarning, match="ran out of data") as record:
        history = _regressor().fit(loader, steps_per_epoch=5, epochs=2, verbose=0)
    assert history.epoch == [0, 1] and len(record) == 2


def test_a_source_with_no_batches_is_refused():
    with (pytest.raises(InputSpecError, match="fit: the training data of model '.*' gave no "
                                              "batches"),
          pytest.warns(UserWarning, match="ran out of data")):
        _regressor().fit(iter([]), verbose=0)


# -- inconsistent batches ----------------------------------------------------------------
def test_a_batch_with_other_feature_shapes_names_the_batch_and_the_shapes():
    x, y = _data()

    def batches():
        yield x[:4], y[:4]
        yield x[4:8], y[4:8]
        yield np.ones((4, D + 1), "float32"), y[8:12]

    with pytest.raises(InputSpecError, match=r"fit: batch 2 has shapes \[\(4, 4\), \(4, 1\)\] "
                                             r"\(x, y, sample_weight\), while the first batch "
                                             r"had \[\(4, 3\), \(4, 1\)\]"):
        _regressor().fit(batches(), verbose=0)


def test_a_batch_whose_arrays_disagree_on_the_batch_size_is_named():
    x, y = _data()

    def batches():
        yield x[:4], y[:4]
        yield x[4:8], y[4:7]

    with pytest.raises(InputSpecError, match=r"batch 1: Data cardinality is ambiguous.*x: 4, "
                                             r"y: 3"):
        _regressor().fit(batches(), verbose=0)


def test_a_batch_with_another_structure_is_refused():
    x, y = _data()

    def batches():
        yield x[:4], y[:4]
        yield x[4:8], y[4:8], np.ones(4, "float32")

    with pytest.raises(InputSpecError, match="batch 1 is structured as .*unlike the first"):
        _regressor().fit(batches(), verbose=0)


def test_batches_of_single_samples_or_wrong_tuples_are_refused():
    with pytest.raises(InputSpecError, match="batch 0: expected arrays with a batch "
                                             "dimension, received a scalar in `x`"):
        _regressor().fit(iter([(1.0, 2.0)]), verbose=0)
    x, y = _data()
    with pytest.raises(InputSpecError, match=r"batch 0: expected \(x,\), \(x, y\) or \(x, y, "
                                             r"sample_weight\), received a tuple of 4 items"):
        _regressor().fit(iter([(x, y, y, y)]), verbose=0)
    with pytest.raises(InputSpecError, match="evaluate: batch 0 has no targets"):
        _regressor().evaluate(iter([x]), verbose=0)


# -- labels out of range -----------------------------------------------------------------
@pytest.mark.parametrize("bad, shown", [(3, r"\[0, 3\]"), (-1, r"\[-1, 2\]")])
def test_sparse_labels_out_of_range_are_refused_before_training(bad, shown):
    x, _ = _data()
    labels = np.arange(16) % 3
    labels[7] = bad
    model = _classifier()
    model.build((None, D))
    before = _snapshot(model)
    with pytest.raises(InputSpecError, match=(
            r"fit labels for output 'scores' \(loss sparse_categorical_crossentropy\) must be "
            r"class indices in \[0, 3\) \(the output has 3 classes\); received labels in "
            + shown + r", 1 of them out of range")):
        model.fit(x, labels, verbose=0)
    _unchanged(model, before)


def test_sparse_label_check_covers_names_validation_and_ignore_class():
    x, _ = _data()
    labels = np.arange(16) % 3
    with pytest.raises(InputSpecError, match=r"validation labels .* \[0, 3\)"):
        _classifier("sparse_categorical_crossentropy").fit(
            x, labels, validation_data=(x, labels + 1), verbose=0)
    with pytest.raises(InputSpecError, match=r"must be class indices in \[0, 3\)"):
        _classifier(lm.losses.sparse_categorical_crossentropy).fit(x, labels + 5, verbose=0)
    with_void = labels.copy()
    with_void[::4] = -1  # the ignored class is not out of range
    _classifier(lm.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
                ).fit(x, with_void, verbose=0)


def test_sparse_label_check_names_the_output_of_a_multi_output_model():
    x, _ = _data()
    inp = lm.Input((D,))
    model = lm.Model(inp, {"kind": lm.layers.Dense(4, name="kind")(inp),
                           "value": lm.layers.Dense(1, name="value")(inp)})
    model.compile(optimizer="sgd", loss={"kind": "sparse_categorical_crossentropy",
                                         "value": "mse"})
    with pytest.raises(InputSpecError, match=r"output 'kind' .*\[0, 4\) \(the output has 4 "
                                             r"classes\); received labels in \[0, 4\]"):
        model.fit(x, {"kind": np.arange(16) % 5, "value": x[:, :1]}, verbose=0)


# -- class_weight ------------------------------------------------------------------------
def test_class_weight_errors():
    x, _ = _data()
    labels = np.arange(16) % 3
    with pytest.raises(InputSpecError, match="class_weight and sample_weight were both given"):
        _classifier().fit(x, labels, class_weight={0: 2.0}, sample_weight=np.ones(16),
                          verbose=0)
    with pytest.raises(InputSpecError, match=r"expected a dict mapping integer class indices "
                                             r"to weights, received \{'a': 2.0\}"):
        _classifier().fit(x, labels, class_weight={"a": 2.0}, verbose=0)
    inp = lm.Input((D,))
    two = lm.Model(inp, [lm.layers.Dense(3)(inp), lm.layers.Dense(3)(inp)])
    two.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(InputSpecError, match=r"class_weight is only supported for models "
                                             r"with a single output; this model has 2"):
        two.fit(x, [labels, labels], class_weight={0: 2.0}, verbose=0)
    seq_in = lm.Input((5, D))
    seq = lm.Model(seq_in, lm.layers.Dense(3)(seq_in))
    seq.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(InputSpecError, match=r"class_weight needs one class per sample.*"
                                             r"received targets of shape \(16, 5, 1\)"):
        seq.fit(np.ones((16, 5, D), "float32"), np.zeros((16, 5, 1)), class_weight={0: 2.0},
                verbose=0)


# -- unknown or misplaced data -----------------------------------------------------------
@pytest.mark.parametrize("x", ["not data", 42, object()])
def test_unknown_data_types_are_refused_listing_what_is_accepted(x):
    with pytest.raises(InputSpecError, match=(
            r"fit: unsupported data of type \w+\. Expected numpy or jax arrays .*PyDataset.*"
            r"DataLoader")):
        _regressor().fit(x, np.zeros((1, 1)), verbose=0)


def test_targets_passed_beside_a_generator_are_refused():
    x, y = _data()
    with pytest.raises(InputSpecError, match="`y` must be None when `x` is a generator"):
        _regressor().fit(_batches(x, y), y, verbose=0)


def test_validation_split_of_a_generator_is_refused():
    x, y = _data()
    with pytest.raises(InputSpecError, match=r"validation_split is supported for arrays, "
                                             r"DataFrames and PyDataset.*received a generator"):
        _regressor().fit(_batches(x, y), validation_split=0.2, verbose=0)


def test_non_numeric_frames_are_refused():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": ["x", "y"], "b": [1.0, 2.0], "c": [0.0, 1.0]})
    with pytest.raises(InputSpecError, match="expected numeric arrays .* received dtype object"):
        _regressor().fit(frame, np.zeros((2, 1)), verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"validation_freq": 0}, "validation_freq: expected a positive integer"),
    ({"validation_freq": "2"}, "validation_freq: expected a positive integer"),
    ({"steps_per_epoch": 0}, "steps_per_epoch: expected a positive integer or None"),
    ({"validation_steps": 1.5}, "validation_steps: expected a positive integer or None"),
    ({"shuffle": "yes"}, "shuffle: expected True, False or 'batch', received 'yes'"),
    ({"validation_split": 1.5}, r"validation_split: expected a fraction in \(0, 1\)"),
])
def test_bad_fit_arguments_are_refused(kwargs, message):
    x, y = _data()
    with pytest.raises(InputSpecError, match=message):
        _regressor().fit(x, y, verbose=0, **kwargs)
