"""compile() edge cases: metrics sized from the output shape, vector-valued metrics in the
logs, one metric instance per output, and losses that do not reduce to a scalar."""
import numpy as np
import pytest
from sklearn.metrics import f1_score

import lamina as lm


def _data(n=24, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    labels = rng.integers(0, classes, size=n)
    return x, np.eye(classes, dtype=np.float32)[labels], labels


def test_a_per_class_f1_metric_is_sized_and_logged_as_an_array(tmp_path):
    x, y, labels = _data()
    inp = lm.Input((4,))
    model = lm.Model(inp, lm.layers.Dense(3, activation="softmax")(inp))
    model.compile("sgd", "categorical_crossentropy", metrics=[lm.metrics.F1Score()])
    csv_path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=1, batch_size=24, verbose=2,
                        callbacks=[lm.callbacks.CSVLogger(csv_path)])
    f1 = history.history["f1_score"][0]
    assert f1.shape == (3,)
    # the metric saw the predictions of the step's forward pass (weights before the update)
    result = model.evaluate(x, y, verbose=0, return_dict=True)["f1_score"]
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    np.testing.assert_allclose(result, f1_score(labels, predicted, average=None, labels=[0, 1, 2],
                                                zero_division=0), rtol=1e-5, atol=1e-6)
    assert csv_path.read_text().splitlines()[1].count("[") == 1


def test_each_output_gets_its_own_metric_instance():
    x, y, _ = _data()
    inp = lm.Input((4,))
    a = lm.layers.Dense(3, activation="softmax", name="a")(inp)
    b = lm.layers.Dense(2, activation="softmax", name="b")(inp)
    model = lm.Model(inp, [a, b])
    metric = lm.metrics.F1Score(average="macro")
    model.compile("sgd", ["categorical_crossentropy", "categorical_crossentropy"],
                  metrics=[metric])
    yb = np.eye(2, dtype=np.float32)[np.arange(24) % 2]
    logs = model.train_on_batch(x, [y, yb], return_dict=True)
    assert {"a_f1_score", "b_f1_score"} <= set(logs)
    first, second = (spec.metrics[0] for spec in model._trainer.specs)
    assert first is not second


def test_a_loss_without_reduction_is_refused_at_compile():
    inp = lm.Input((4,))
    model = lm.Model(inp, lm.layers.Dense(1)(inp))
    with pytest.raises(lm.ConfigurationError, match="has reduction='none', which gives one value "
                                                    "per sample; training needs a scalar"):
        model.compile("sgd", lm.losses.MeanSquaredError(reduction="none"))


def test_a_single_output_takes_a_list_of_one_loss_and_one_loss_weight():
    """Keras accepts loss=[...] and loss_weights=[...] of one entry for a single output."""
    x, y, _ = _data()
    losses = {}
    for loss, weights in (("categorical_crossentropy", 0.5),
                          (["categorical_crossentropy"], [0.5])):
        lm.random.set_seed(0)
        model = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3, activation="softmax")])
        model.compile("sgd", loss, loss_weights=weights)
        losses[str(loss)] = model.evaluate(x, y, verbose=0)
    assert losses["categorical_crossentropy"] == losses["['categorical_crossentropy']"]
    reference = lm.Sequential([lm.Input((4,)), lm.layers.Dense(3, activation="softmax")])
    reference.compile("sgd", "categorical_crossentropy")
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(losses["categorical_crossentropy"],
                               0.5 * reference.evaluate(x, y, verbose=0), rtol=1e-6)
    with pytest.raises(lm.ConfigurationError, match=r"compile\(loss_weights=...\): expected "
                                                    "one entry per output"):
        model.compile("sgd", "categorical_crossentropy", loss_weights=[1.0, 2.0])
        model.evaluate(x, y, verbose=0)
