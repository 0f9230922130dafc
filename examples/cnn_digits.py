"""A small convolutional network on scikit-learn's bundled 8x8 digits.

    (8, 8, 1) -> Conv2D 16 3x3 "same" relu -> MaxPooling2D 2x2 -> Conv2D 32 3x3 "same" relu
              -> MaxPooling2D 2x2 -> Flatten -> Dense 10 (logits)

Trained with Adam on 70% of the images and evaluated on the 30% held out (a stratified split).
Besides the test accuracy (>= 95% on a full run), `main()` checks that the layers produce the
documented shapes and parameter counts, that `evaluate`'s accuracy is the accuracy of
`predict`'s argmax, and that freezing the first convolution (`trainable = False`) keeps it
bit-for-bit unchanged while the rest of the network goes on training.

Run: python examples/cnn_digits.py
"""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lamina as lm
from lamina.layers.convolutional import Conv2D
from lamina.layers.pooling import MaxPooling2D


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def load_images():
    """Digits as (n, 8, 8, 1) images in [0, 1], split 70/30 with every class in both parts."""
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    return train_test_split(x, digits.target, test_size=0.3, random_state=0,
                            stratify=digits.target)


def build_model():
    return lm.Sequential([
        lm.Input((8, 8, 1), name="image"),
        Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        MaxPooling2D(name="pool1"),
        Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        MaxPooling2D(name="pool2"),
        lm.layers.Flatten(name="flatten"),
        lm.layers.Dense(10, name="logits"),
    ], name="cnn_digits")


# (layer name, output shape without the batch, parameters), worked out by hand
EXPECTED_LAYERS = [
    ("conv1", (8, 8, 16), 3 * 3 * 1 * 16 + 16),
    ("pool1", (4, 4, 16), 0),
    ("conv2", (4, 4, 32), 3 * 3 * 16 * 32 + 32),
    ("pool2", (2, 2, 32), 0),
    ("flatten", (128,), 0),
    ("logits", (10,), 128 * 10 + 10),
]


def main(quick=False):
    lm.random.set_seed(0)
    x_train, x_test, y_train, y_test = load_images()
    if quick:  # a few steps on a small slice, for the smoke test
        x_train, y_train = x_train[:128], y_train[:128]
    epochs = 1 if quick else 30
    facts = {}

    heading("CNN on the 8x8 digits: the model")
    model = build_model()
    model.compile(optimizer=lm.optimizers.Adam(learning_rate=3e-3),
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.summary()
    layers = {layer.name: layer for layer in model.layers}
    facts["shapes_and_parameters"] = verdict(
        "every layer has the output shape and parameter count worked out by hand",
        all(tuple(layers[name].output.shape[1:]) == shape
            and layers[name].count_params() == params
            for name, shape, params in EXPECTED_LAYERS))

    heading(f"Training for {epochs} epoch(s) on {len(x_train)} images")
    first_loss = model.evaluate(x_train, y_train, verbose=0, return_dict=True)["loss"]
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    train_loss = model.evaluate(x_train, y_train, verbose=0, return_dict=True)["loss"]
    print(f"  training loss: {first_loss:.4f} -> {train_loss:.4f}")
    print(f"  test accuracy on {len(x_test)} held-out images: {logs['accuracy']:.4f}")
    facts["training_loss_decreased"] = verdict("training lowered the training loss",
                                               train_loss < first_loss)
    predicted = np.argmax(model.predict(x_test, verbose=0), axis=-1)
    facts["evaluate_matches_predict"] = verdict(
        "evaluate's accuracy is the accuracy of predict's argmax",
        abs(float(np.mean(predicted == y_test)) - logs["accuracy"]) < 1e-6)
    if not quick:
        facts["test_accuracy_at_least_0_95"] = verdict(
            "the CNN reaches at least 95% accuracy on the held-out images",
            logs["accuracy"] >= 0.95)

    heading("Freezing the first convolution: conv1.trainable = False")
    conv1, logits = layers["conv1"], layers["logits"]
    conv1.trainable = False
    conv1_before, logits_before = conv1.get_weights(), logits.get_weights()
    model.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0)
    facts["frozen_conv_bitwise_unchanged"] = verdict(
        "conv1 is bit-for-bit unchanged by another epoch (np.array_equal)",
        all(np.array_equal(b, a) for b, a in zip(conv1_before, conv1.get_weights(), strict=True)))
    facts["head_still_trains"] = verdict(
        "the rest of the network still trains (the logits layer changed)",
        not all(np.array_equal(b, a)
                for b, a in zip(logits_before, logits.get_weights(), strict=True)))
    conv1.trainable = True

    print(f"\n  test accuracy: {logs['accuracy']:.4f}")
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
