"""Convergence: an MLP learns scikit-learn's bundled digits (no download needed)."""
import numpy as np
import pytest

import lamina as lm

sklearn_datasets = pytest.importorskip("sklearn.datasets")
sklearn_model_selection = pytest.importorskip("sklearn.model_selection")


@pytest.mark.slow
def test_mlp_learns_digits():
    digits = sklearn_datasets.load_digits()
    x = (digits.data / 16.0).astype("float32")  # pixel values 0..16 scaled to [0, 1]
    y = digits.target.astype("int32")
    x_train, x_test, y_train, y_test = sklearn_model_selection.train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=0)

    model = lm.Sequential([
        lm.Input((64,)),
        lm.layers.Dense(64, activation="relu"),
        lm.layers.Dense(10),
    ])
    model.compile(optimizer=lm.optimizers.Adam(learning_rate=3e-3),
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]

    loss, accuracy = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
    assert accuracy >= 0.93, f"test accuracy {accuracy:.3f} (loss {loss:.3f})"

    predicted = np.argmax(model.predict(x_test, batch_size=128, verbose=0), axis=-1)
    np.testing.assert_allclose(np.mean(predicted == y_test), accuracy, atol=1e-6)
