"""A multi-task model on scikit-learn's 8x8 digits: one trunk, two heads, one head frozen.

    pixels (64) -> trunk: Dense 64 relu "trunk1" -> Dense 32 relu "trunk2"
                   -> head "digit"  : Dense 10 (logits, which digit)
                   -> head "parity" : Dense 1  (logit, is the digit odd)

Phase 1  both heads and the trunk train on both losses (`compile(loss={"digit": ...,
         "parity": ...})`); the history holds the per-output losses under Keras's names
         (`digit_loss`, `parity_loss`, and metrics such as `digit_accuracy`).
Phase 2  `model.freeze(parity_head)`: the parity head is frozen in this model's scope while
         the trunk and the digit head keep training. Both losses still count, and (docs/design.md
         rule 4) the parity loss still sends gradients *through* the frozen head into the trunk.
         The parity head is checked bit-for-bit unchanged, the trunk and the digit head
         changed, and `explain()` names the freeze.

Run: python examples/multitask.py     (writes examples/output/multitask/)
"""
import os
import shutil

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lamina as lm

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output", "multitask")


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def load_split():
    """Pixels in [0, 1] and two targets per image: the digit and its parity (1 = odd)."""
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.3, random_state=0, stratify=digits.target)

    def targets(y):
        return {"digit": y, "parity": (y % 2).astype("float32")[:, None]}

    return x_train, targets(y_train), x_test, targets(y_test)


def build_model():
    pixels = lm.Input((64,), name="pixels")
    h = lm.layers.Dense(64, activation="relu", name="trunk1")(pixels)
    h = lm.layers.Dense(32, activation="relu", name="trunk2")(h)
    digit = lm.layers.Dense(10, name="digit")(h)
    parity = lm.layers.Dense(1, name="parity")(h)
    model = lm.Model(pixels, [digit, parity], name="multitask")
    model.compile(
        optimizer=lm.optimizers.Adam(learning_rate=3e-3),
        loss={"digit": lm.losses.SparseCategoricalCrossentropy(from_logits=True),
              "parity": lm.losses.BinaryCrossentropy(from_logits=True)},
        metrics={"digit": ["accuracy"],
                 "parity": [lm.metrics.BinaryAccuracy(threshold=0.0)]})
    return model


def snapshot(model, names):
    return {name: model.get_layer(name).get_weights() for name in names}


def changed(before, after):
    return not all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def draw(model, path):
    """The model's graph as a PNG; without Graphviz's `dot` program, its DOT source instead."""
    if shutil.which("dot") is None:
        path = os.path.splitext(path)[0] + ".dot"
    lm.utils.plot_model(model, to_file=path, show_shapes=True)
    return path


def main(quick=False, out_dir=DEFAULT_OUT):
    epochs = 1 if quick else 20
    lm.random.set_seed(0)
    x_train, y_train, x_test, y_test = load_split()
    if quick:
        x_train, y_train = x_train[:128], {k: v[:128] for k, v in y_train.items()}
    layer_names = ["trunk1", "trunk2", "digit", "parity"]
    facts = {}

    heading("Multi-task, phase 1: trunk and both heads train")
    model = build_model()
    model.summary()
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    keys = sorted(history.history)
    print(f"  history keys: {keys}")
    facts["per_output_losses_in_history"] = verdict(
        "the history has the total and per-output losses and metrics under Keras's names",
        {"loss", "digit_loss", "parity_loss", "digit_accuracy",
         "parity_binary_accuracy"} <= set(keys))
    logs = history.history
    facts["total_is_sum_of_outputs"] = verdict(
        "each epoch's loss is digit_loss + parity_loss (no regularisation here; within 1e-5)",
        all(abs(t - d - p) < 1e-5 * max(1.0, t)
            for t, d, p in zip(logs["loss"], logs["digit_loss"], logs["parity_loss"], strict=True)))
    phase1 = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print(f"  held-out: digit accuracy {phase1['digit_accuracy']:.4f}, parity accuracy "
          f"{phase1['parity_binary_accuracy']:.4f}")

    heading("Multi-task, phase 2: model.freeze(parity head), keep training")
    parity_head = model.get_layer("parity")
    model.freeze(parity_head)
    print(model.explain())
    facts["freeze_named_in_explain"] = verdict(
        "explain() says 'multitask' froze 'parity' in its scope; the layer's flag reads True",
        parity_head.trainable is True and all(
            not row.trained and any("multitask.freeze" in r for r in row.reasons)
            for row in model.explain() if row.layer is parity_head))
    before = snapshot(model, layer_names)
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
    after = snapshot(model, layer_names)
    print(f"  history keys: {sorted(history.history)}")
    for name in layer_names:
        print(f"    {name:<7} changed: {changed(before[name], after[name])}")
    facts["frozen_head_bitwise_unchanged"] = verdict(
        "the parity head is bit-for-bit unchanged (np.array_equal)",
        not changed(before["parity"], after["parity"]))
    facts["trunk_and_digit_head_trained"] = verdict(
        "the trunk and the digit head changed",
        all(changed(before[name], after[name]) for name in ("trunk1", "trunk2", "digit")))
    facts["both_losses_still_logged"] = verdict(
        "with one head frozen, both per-output losses are still in the history",
        {"digit_loss", "parity_loss"} <= set(history.history))
    phase2 = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print(f"  held-out: digit accuracy {phase2['digit_accuracy']:.4f}, parity accuracy "
          f"{phase2['parity_binary_accuracy']:.4f} (the parity head is frozen; the trunk "
          "moved under it, still trained by both losses)")
    os.makedirs(out_dir, exist_ok=True)
    path = draw(model, os.path.join(out_dir, "multitask.png"))
    print(f"  model graph (frozen layers marked): {path}")
    model.unfreeze(parity_head)
    if not quick:
        facts["both_tasks_learned"] = verdict(
            "after phase 2, digit accuracy >= 95% and parity accuracy >= 95% on held-out data",
            phase2["digit_accuracy"] >= 0.95 and phase2["parity_binary_accuracy"] >= 0.95)
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
