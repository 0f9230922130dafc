"""LoRA: adapt a small pre-trained transformer to a new task by training low-rank adapters.

Task A (pre-training): is the first token of a sequence among the most frequent tokens of
the sequence? Task B (adaptation): is the *last* token? Both are synthetic token sequences.
The transformer is trained on A, then LoRA adapters (rank 4) on the attention query/value
projections and the feed-forward layers are trained on B with a new head while every base
weight stays bitwise frozen. The adapters are saved alone (a few kilobytes), loaded onto a
fresh copy of the pre-trained model, and merged for serving.

Run: python examples/lora_transformer.py
"""
import os
import sys
import tempfile

import numpy as np

import lamina as lm

VOCAB, LENGTH, WIDTH = 12, 16, 32


def make_task(n, seed, position):
    """Sequences of tokens; label 1 when the token at `position` is (one of) the most
    frequent tokens of its sequence."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, VOCAB, size=(n, LENGTH))
    # make the question non-trivial: half the time, plant the asked token many times
    planted = rng.random(n) < 0.5
    for i in np.flatnonzero(planted):
        spots = rng.choice(LENGTH, size=5, replace=False)
        x[i, spots] = x[i, position]
    counts = np.stack([np.bincount(row, minlength=VOCAB) for row in x])
    y = (counts[np.arange(n), x[:, position]] == counts.max(axis=1)).astype("float32")
    return x.astype("int32"), y[:, None]


def encoder(name):
    tokens = lm.Input((LENGTH,), dtype="int32")
    h = lm.layers.Embedding(VOCAB, WIDTH, name="embed")(tokens)
    for block in range(2):
        attended = lm.layers.MultiHeadAttention(4, WIDTH // 4, name=f"attn{block}")(h, h)
        h = lm.layers.LayerNormalization(name=f"norm{block}a")(lm.layers.Add()([h, attended]))
        ff = lm.layers.Dense(2 * WIDTH, activation="relu", name=f"ff{block}_in")(h)
        ff = lm.layers.Dense(WIDTH, name=f"ff{block}_out")(ff)
        h = lm.layers.LayerNormalization(name=f"norm{block}b")(lm.layers.Add()([h, ff]))
    return lm.Model(tokens, lm.layers.Flatten()(h), name=name)


def classifier(body, head_name):
    tokens = lm.Input((LENGTH,), dtype="int32")
    out = lm.layers.Dense(1, activation="sigmoid", name=head_name)(body(tokens))
    return lm.Model(tokens, out)


def accuracy(model, x, y):
    return float(np.mean((model.predict(x, verbose=0) > 0.5) == (y > 0.5)))


def main(quick=False):
    lm.random.set_seed(0)
    n = 1200 if quick else 6000
    epochs = (4, 6) if quick else (12, 15)
    xa, ya = make_task(n, 0, position=0)
    xb, yb = make_task(n, 1, position=LENGTH - 1)
    xb_test, yb_test = make_task(1000, 2, position=LENGTH - 1)

    body = encoder("encoder")
    model_a = classifier(body, "head_a")
    model_a.compile(lm.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    model_a.fit(xa, ya, epochs=epochs[0], batch_size=64, verbose=0)
    pretrained = [np.array(w.value) for w in body.weights]

    model_b = classifier(body, "head_b")
    report = model_b.enable_lora(4, targets=["*query*", "*value*", "ff*"])
    print(report)
    base = {w.path: np.array(w.value) for w in body.weights if "lora" not in w.path}
    # LoRA fine-tuning: the adapters and the new head train; the encoder's other weights too
    # would, so freeze the encoder's non-adapter weights by their own flags
    for w in body.weights:
        if "lora" not in w.path:
            w.trainable = False
    trained = sum(int(np.prod(w.shape)) for w in model_b.trainable_weights)
    print(f"trained when model B trains: {trained:,} of {model_b.count_params():,} parameters")
    before = accuracy(model_b, xb_test, yb_test)
    model_b.compile(lm.optimizers.Adam(3e-3), "binary_crossentropy", metrics=["accuracy"])
    model_b.fit(xb, yb, epochs=epochs[1], batch_size=64, verbose=0)
    after = accuracy(model_b, xb_test, yb_test)
    print(f"task B accuracy: {before:.3f} before LoRA, {after:.3f} after")

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "task_b.lamina")
    model_b.save_lora_weights(path)
    size = os.path.getsize(path)
    print(f"adapter file: {size:,} bytes")

    fresh_body = encoder("encoder")
    fresh = classifier(fresh_body, "head_b")
    for target, value in zip(fresh_body.weights, pretrained, strict=True):
        target.assign(value)
    fresh.get_layer("head_b").set_weights(model_b.get_layer("head_b").get_weights())
    fresh.load_lora_weights(path)
    reloaded = accuracy(fresh, xb_test, yb_test)
    expected = model_b.predict(xb_test, verbose=0)
    fresh.merge_lora()
    merged_gap = float(np.max(np.abs(fresh.predict(xb_test, verbose=0) - expected)))
    print(f"reloaded adapters: accuracy {reloaded:.3f}; merged model max difference "
          f"{merged_gap:.2e}")

    return {
        "lora_improves_task_b": after > before + 0.1,
        "base_bitwise_frozen": all(np.array_equal(np.array(w.value), base[w.path])
                                   for w in body.weights if "lora" not in w.path),
        "trains_a_small_fraction": trained < 0.25 * model_b.count_params(),
        "adapter_file_small": size < 100_000,
        "reloaded_equal": reloaded == after,
        "merged_equal": merged_gap < 1e-5,
    }


if __name__ == "__main__":
    facts = main(quick="--quick" in sys.argv)
    print("\n".join(f"{'ok ' if ok else 'FAILED'} {name}" for name, ok in facts.items()))
    sys.exit(0 if all(facts.values()) else 1)
