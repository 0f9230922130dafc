"""An LSTM reads scikit-learn's 8x8 digits row by row: 8 time steps of 8 pixels -> 10 classes.

Phase 1  train Input((8, 8)) -> LSTM(32) -> Dense(10) on 70% of the digits and report the
         accuracy on the held-out 30% (the full run reaches >= 0.9; about 0.97 when last run).
         The LSTM's weights have Keras 3's layout (kernel (8, 128), recurrent_kernel
         (32, 128), bias (128,), gates i, f, c, o), so they interchange with Keras.
Phase 2  freeze the LSTM in the model's scope (`model.freeze(lstm)`; its flag stays True) and
         train the head only: the LSTM is bit-for-bit unchanged, the head moves.

Run: python examples/lstm_digits.py
"""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lamina as lm
from lamina.layers.recurrent import LSTM

UNITS = 32


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def load_rows():
    """Digits as (samples, 8 rows, 8 pixels) in [0, 1], split 70/30 (stratified)."""
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")
    return train_test_split(x, digits.target, test_size=0.3, random_state=0,
                            stratify=digits.target)


def accuracy(model, x, y):
    return model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)["accuracy"]


def main(quick=False):
    epochs = 2 if quick else 40
    lm.random.set_seed(0)
    x_train, x_test, y_train, y_test = load_rows()
    if quick:  # 10 full batches per epoch
        x_train, y_train = x_train[:320], y_train[:320]
    facts = {}

    # ----------------------------------------------------------------------------------
    heading("LSTM digits, phase 1: read each image row by row and classify it")
    inputs = lm.Input((8, 8), name="rows")
    lstm = LSTM(UNITS, name="lstm")
    model = lm.Model(inputs, lm.layers.Dense(10, name="head")(lstm(inputs)), name="lstm_digits")
    model.compile(optimizer=lm.optimizers.Adam(learning_rate=5e-3),
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.summary()
    facts["reads_8_rows_of_8_pixels"] = verdict(
        "the model reads 8 time steps of 8 features", tuple(inputs.shape) == (None, 8, 8))
    facts["lstm_weights_keras_layout"] = verdict(
        "LSTM weights have Keras 3's names and shapes (kernel, recurrent_kernel, bias)",
        [(v.name, v.shape) for v in lstm.weights]
        == [("kernel", (8, 4 * UNITS)), ("recurrent_kernel", (UNITS, 4 * UNITS)),
            ("bias", (4 * UNITS,))])
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    losses = history.history["loss"]
    print(f"  training loss: {losses[0]:.4f} (epoch 1) -> {losses[-1]:.4f} (epoch {epochs})")
    facts["loss_decreased"] = verdict("the training loss went down", losses[-1] < losses[0])
    acc = accuracy(model, x_test, y_test)
    print(f"  test accuracy on {len(x_test)} held-out digits: {acc:.4f}")

    # ----------------------------------------------------------------------------------
    heading("LSTM digits, phase 2: freeze the LSTM in this model's scope, train the head")
    model.freeze(lstm)
    print(model.explain())
    lstm_before, head_before = lstm.get_weights(), model.get_layer("head").get_weights()
    model.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0)
    facts["frozen_lstm_bitwise_unchanged"] = verdict(
        "the LSTM frozen by model.freeze is bit-for-bit unchanged by training",
        all(np.array_equal(b, a) for b, a in zip(lstm_before, lstm.get_weights(), strict=True)))
    facts["flag_untouched_head_trains"] = verdict(
        "lstm.trainable still reads True, and the head trained",
        lstm.trainable and not np.array_equal(head_before[0],
                                              model.get_layer("head").get_weights()[0]))
    acc_after = accuracy(model, x_test, y_test)
    print(f"  test accuracy after a head-only epoch: {acc_after:.4f}")

    if not quick:
        facts["test_accuracy_at_least_0.9"] = verdict(
            "the LSTM classifies >= 90% of the held-out digits", acc >= 0.9)
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
