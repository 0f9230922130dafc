"""A siamese network on scikit-learn's 8x8 digits: one encoder, used twice.

    encoder: 64 pixels -> Dense 64 relu -> Dense 16, no bias    (one Sequential model)
    siamese: (a, b) -> d = encoder(a) - encoder(b) -> d * d -> Dense 1 (logit: same digit?)

The pair model calls the same encoder instance on both inputs, so there is one set of encoder
weights: both branches read it, and a training step sums both branches' gradients into it.
(The embedding layer has no bias: a bias would cancel in the difference and never train.)
It is trained with binary cross-entropy on pairs of digits (half same class, half different).

The example then builds a second model on the same encoder, a digit classifier that freezes
the encoder in its own scope (`classifier.freeze(encoder)`), and shows with
`lm.explain_layer(encoder_layer)` which of the models holding the encoder would train it.
The graph of the siamese model is drawn with `lm.utils.plot_model` (the shared encoder
appears once, fed by both inputs).

Run: python examples/siamese.py     (writes examples/output/siamese/)
"""
import os
import shutil

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lamina as lm

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output", "siamese")


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def load_split():
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    return train_test_split(x, digits.target, test_size=0.3, random_state=0,
                            stratify=digits.target)


def make_pairs(x, y, n, rng):
    """`n` pairs, half of the same class (label 1) and half of different classes (label 0)."""
    by_class = [np.flatnonzero(y == c) for c in range(10)]
    first = rng.integers(0, len(x), n)
    same = np.arange(n) % 2 == 0
    second = np.empty(n, dtype=int)
    for i, j in enumerate(first):
        if same[i]:
            second[i] = rng.choice(by_class[y[j]])
        else:
            other = rng.choice([c for c in range(10) if c != y[j]])
            second[i] = rng.choice(by_class[other])
    return x[first], x[second], same.astype("float32")[:, None]


def build_models():
    encoder = lm.Sequential([
        lm.Input((64,)),
        lm.layers.Dense(64, activation="relu", name="hidden"),
        lm.layers.Dense(16, use_bias=False, name="embedding"),
    ], name="encoder")
    a, b = lm.Input((64,), name="a"), lm.Input((64,), name="b")
    ea, eb = encoder(a), encoder(b)
    d = lm.layers.Subtract(name="difference")([ea, eb])
    squared = lm.layers.Multiply(name="squared")([d, d])
    siamese = lm.Model([a, b], lm.layers.Dense(1, name="same")(squared), name="siamese")
    siamese.compile(optimizer=lm.optimizers.Adam(learning_rate=1e-3),
                    loss=lm.losses.BinaryCrossentropy(from_logits=True),
                    metrics=[lm.metrics.BinaryAccuracy(threshold=0.0)])
    branches = lm.Model([a, b], [ea, eb], name="branches")  # both embeddings, for checking
    return encoder, siamese, branches


def same_weights(before, after):
    return all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def draw(model, path):
    """The model's graph as a PNG; without Graphviz's `dot` program, its DOT source instead."""
    if shutil.which("dot") is None:
        path = os.path.splitext(path)[0] + ".dot"
    lm.utils.plot_model(model, to_file=path, show_shapes=True)
    return path


def main(quick=False, out_dir=DEFAULT_OUT):
    epochs, n_pairs = (1, 128) if quick else (20, 20000)
    lm.random.set_seed(0)
    rng = np.random.default_rng(0)
    x_train, x_test, y_train, y_test = load_split()
    facts = {}

    heading("Siamese: one encoder, two branches")
    encoder, siamese, branches = build_models()
    siamese.summary()
    enc_ids = {id(v) for v in encoder.weights}
    siamese_ids = [id(v) for v in siamese.weights]
    facts["one_set_of_encoder_weights"] = verdict(
        "the siamese model holds each encoder variable once (3 encoder + 2 head variables, "
        f"{encoder.count_params():,} + 17 params)",
        len(siamese_ids) == len(set(siamese_ids)) == 5 and enc_ids <= set(siamese_ids)
        and siamese.count_params() == encoder.count_params() + 17)

    heading(f"Siamese: training on {n_pairs} pairs for {epochs} epoch(s)")
    xa, xb, same = make_pairs(x_train, y_train, n_pairs, rng)
    before = encoder.get_weights()
    siamese.fit([xa, xb], same, batch_size=64, epochs=epochs, verbose=0)
    facts["encoder_trained"] = verdict(
        "training the siamese model changed the encoder's weights",
        all(not np.array_equal(b, a) for b, a in zip(before, encoder.get_weights(), strict=True)))
    ta, tb, t_same = make_pairs(x_test, y_test, 1000, rng)
    pair_acc = siamese.evaluate([ta, tb], t_same, verbose=0, return_dict=True)["binary_accuracy"]
    print(f"  same/different accuracy on 1,000 held-out pairs: {pair_acc:.4f}")

    heading("Siamese: both branches are the same function")
    ea, eb = (np.asarray(e) for e in branches.predict([ta, ta], verbose=0))
    direct = np.asarray(encoder.predict(ta, verbose=0))
    facts["branches_identical"] = verdict(
        "on the same input the two branches give bit-identical embeddings, equal to the "
        "encoder's own output", np.array_equal(ea, eb) and np.array_equal(ea, direct))
    p_ab = np.asarray(siamese.predict([ta, tb], verbose=0))
    p_ba = np.asarray(siamese.predict([tb, ta], verbose=0))
    facts["pair_score_symmetric"] = verdict(
        "swapping the two inputs gives the same score (|max difference| < 1e-5)",
        float(np.max(np.abs(p_ab - p_ba))) < 1e-5)

    heading("Siamese: which models train the encoder? explain_layer")
    inputs = lm.Input((64,), name="pixels")
    classifier = lm.Model(inputs, lm.layers.Dense(10, name="digit")(encoder(inputs)),
                          name="classifier")
    classifier.freeze(encoder)  # a linear probe: the encoder is frozen in this model only
    hidden = encoder.get_layer("hidden")
    report = lm.explain_layer(hidden)
    print(report)
    holders = {v.model.name: v.trains_layer for v in report}
    facts["explain_layer_lists_holders"] = verdict(
        "explain_layer lists every model holding the encoder's layer, and which trains it: "
        f"{holders}",
        holders == {"encoder": True, "siamese": True, "branches": True, "classifier": False})
    print(classifier.explain())
    os.makedirs(out_dir, exist_ok=True)
    path = draw(siamese, os.path.join(out_dir, "siamese.png"))
    print(f"  model graph: {path}")

    print(f"\n  held-out pair accuracy: {pair_acc:.4f}")
    if not quick:
        facts["pair_accuracy_at_least_0_94"] = verdict(
            "the siamese model tells same from different on >= 94% of held-out pairs",
            pair_acc >= 0.94)
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
