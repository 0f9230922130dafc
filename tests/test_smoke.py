"""A short smoke suite of the public API: build, call, compile, fit, evaluate, predict."""
import numpy as np

import lamina as lm


def test_functional_model_trains_and_predicts():
    inp = lm.Input((4,))
    out = lm.layers.Dense(1)(lm.layers.Dense(8, activation="relu")(inp))
    model = lm.Model(inp, out)
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x, verbose=0).shape == (64, 1)
