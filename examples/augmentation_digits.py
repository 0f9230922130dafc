"""Data augmentation inside a CNN on scikit-learn's 8x8 digits.

Two copies of one small CNN train on the same 70% of the digits, one of them behind an
augmentation block (random shifts, rotations and zooms that act only while training):

    (8, 8, 1) -> [RandomTranslation 1px, RandomRotation +-10 deg, RandomZoom 10%]
              -> Conv2D 16 3x3 "same" relu -> MaxPooling2D -> Conv2D 32 3x3 "same" relu
              -> MaxPooling2D -> Flatten -> Dense 10 (logits)

Both are evaluated on the held-out 30% as is and on a *moved* copy of it: each test image
shifted by one pixel and rotated by up to 15 degrees with scipy.ndimage (independent of
lamina). The printed accuracies show what augmentation buys: the two nets are close on the
plain test set, and the augmented one is clearly better on the moved one. `main()` also
checks that the augmentation block is the identity at inference (`predict` of the
augmented net equals the CNN alone with the same weights) and draws new transforms each step.

Run: python examples/augmentation_digits.py
"""
import numpy as np
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lamina as lm
from lamina import layers


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


def moved(images, seed=0):
    """Each image shifted by one pixel in a random direction and rotated by a random angle in
    [-15, 15] degrees (bilinear, zero fill): the test set the augmented net should master."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for i, image in enumerate(images[..., 0]):
        angle = rng.uniform(-15, 15)
        dy, dx = rng.choice([-1, 0, 1], size=2)
        turned = ndimage.rotate(image, angle, reshape=False, order=1, mode="constant")
        out[i, ..., 0] = ndimage.shift(turned, (dy, dx), order=0, mode="constant")
    return np.clip(out, 0.0, 1.0)


def augmentation():
    return lm.Sequential([
        layers.RandomTranslation(0.125, 0.125, fill_mode="constant", seed=1),
        layers.RandomRotation(10 / 360, fill_mode="constant", seed=2),
        layers.RandomZoom(0.1, fill_mode="constant", seed=3),
    ], name="augmentation")


def cnn():
    return lm.Sequential([
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(10),
    ], name="cnn")


def build(augmented):
    body = cnn()
    inputs = lm.Input((8, 8, 1))
    features = augmentation()(inputs) if augmented else inputs
    model = lm.Model(inputs, body(features), name="augmented" if augmented else "plain")
    model.compile(optimizer=lm.optimizers.Adam(learning_rate=3e-3),
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model, body


def main(quick=False):
    lm.random.set_seed(0)
    x_train, x_test, y_train, y_test = load_images()
    x_moved = moved(x_test)
    if quick:  # a few steps on a small slice, for the smoke test
        x_train, y_train = x_train[:128], y_train[:128]
    epochs = 1 if quick else 30
    facts, accuracy = {}, {}

    heading(f"Training a plain and an augmented CNN for {epochs} epoch(s)")
    for augmented in (False, True):
        lm.random.set_seed(0)  # the same initial CNN weights for both
        model, body = build(augmented)
        model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
        name = model.name
        accuracy[name] = {
            split: model.evaluate(x, y_test, verbose=0, return_dict=True)["accuracy"]
            for split, x in (("test", x_test), ("moved", x_moved))}
        if augmented:
            block = model.layers[1]
            state = np.asarray(block.layers[0].seed_generator.state.value)
            model.fit(x_train[:64], y_train[:64], batch_size=32, epochs=1, verbose=0)
            facts["augmentation_draws_new_transforms_each_step"] = verdict(
                "training advanced the augmentation's seed state",
                not np.array_equal(state, np.asarray(block.layers[0].seed_generator.state.value)))
            facts["augmentation_is_identity_at_inference"] = verdict(
                "predict of the augmented net equals its CNN alone on the raw images",
                np.allclose(model.predict(x_test, verbose=0), body.predict(x_test, verbose=0),
                            atol=1e-6))

    heading("Accuracy on the held-out digits, as is and moved (shifted 1px, rotated <=15 deg)")
    print(f"  {'':10s} {'test':>8s} {'moved':>8s}")
    for name, scores in accuracy.items():
        print(f"  {name:10s} {scores['test']:8.4f} {scores['moved']:8.4f}")
    if not quick:
        facts["augmentation_helps_on_moved_digits"] = verdict(
            "the augmented CNN beats the plain one on the moved test set by >= 5 points",
            accuracy["augmented"]["moved"] >= accuracy["plain"]["moved"] + 0.05)
        facts["both_learn_the_plain_test_set"] = verdict(
            "both CNNs reach at least 93% on the plain test set",
            min(scores["test"] for scores in accuracy.values()) >= 0.93)
    print(f"\n  all claims verified: {all(facts.values())}")
    return facts, accuracy


if __name__ == "__main__":
    results, _ = main()
    raise SystemExit(0 if all(results.values()) else 1)
