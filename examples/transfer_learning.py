"""Transfer learning on scikit-learn's 8x8 digits: pre-train, freeze the base, fine-tune.

Phase 1  pre-train `base` + `head_a` on digits 0-4.
Phase 2  `base.trainable = False` (a gate on the sub-model: the flags of its layers stay
         True), then train a new `head_b` on digits 5-9. The base, BatchNormalization moving
         statistics included, is checked bit-for-bit unchanged, so the digits 0-4 model keeps
         exactly its accuracy. The flag is live: the model built on the base needs no recompile
         to see it.
Phase 3  `base.trainable = True` and fine-tune everything with a 10x lower learning rate.

Each phase prints `summary()` and `explain()`, and the test accuracies.

Run: python examples/transfer_learning.py
"""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lamina as lm


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def load_tasks():
    """Two tasks from the bundled digits: A = digits 0-4, B = digits 5-9 (labels 0-4)."""
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.3, random_state=0, stratify=digits.target)
    tasks = {}
    for name, low in (("A", 0), ("B", 5)):
        tr, te = (y_train >= low) & (y_train < low + 5), (y_test >= low) & (y_test < low + 5)
        tasks[name] = (x_train[tr], y_train[tr] - low, x_test[te], y_test[te] - low)
    return tasks


def classifier_loss():
    return lm.losses.SparseCategoricalCrossentropy(from_logits=True)


def accuracy(model, x, y):
    return model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)["accuracy"]


def same_weights(before, after):
    return all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def main(quick=False):
    epochs = 2 if quick else 25
    lm.random.set_seed(0)
    tasks = load_tasks()
    xa, ya, xa_test, ya_test = tasks["A"]
    xb, yb, xb_test, yb_test = tasks["B"]
    if quick:  # small sizes: 10 full batches per epoch
        xa, ya, xb, yb = xa[:320], ya[:320], xb[:320], yb[:320]
    facts = {}

    # ----------------------------------------------------------------------------------
    heading("Transfer learning, phase 1: pre-train base + head_a on digits 0-4")
    base = lm.Sequential([
        lm.Input((64,)),
        lm.layers.Dense(128, activation="relu"),
        lm.layers.BatchNormalization(),
        lm.layers.Dense(64, activation="relu"),
    ], name="base")
    inputs = lm.Input((64,), name="pixels")
    model_a = lm.Model(inputs, lm.layers.Dense(5, name="head_a")(base(inputs)), name="model_a")
    model_a.compile(optimizer=lm.optimizers.Adam(learning_rate=1e-3), loss=classifier_loss(),
                    metrics=["accuracy"])
    model_a.summary()
    print(model_a.explain())
    model_a.fit(xa, ya, batch_size=32, epochs=epochs, verbose=0)
    acc_a = accuracy(model_a, xa_test, ya_test)
    print(f"  test accuracy on digits 0-4: {acc_a:.4f}")

    # ----------------------------------------------------------------------------------
    heading("Transfer learning, phase 2: base.trainable = False, train head_b on digits 5-9")
    base.trainable = False
    inputs = lm.Input((64,), name="pixels")
    model_b = lm.Model(inputs, lm.layers.Dense(5, name="head_b")(base(inputs)), name="model_b")
    model_b.compile(optimizer=lm.optimizers.Adam(learning_rate=1e-3), loss=classifier_loss(),
                    metrics=["accuracy"])
    model_b.summary()
    print(model_b.explain())
    print("  flags of the base's layers:",
          {layer.name: layer.trainable for layer in base.layers})
    facts["base_layer_flags_untouched"] = verdict(
        "base.trainable = False is a gate: every layer inside base still reads trainable=True",
        all(layer.trainable for layer in base.layers))
    facts["only_head_b_trains"] = verdict(
        "model_b's trainable weights are exactly head_b's",
        {v.path for v in model_b.trainable_weights}
        == {v.path for v in model_b.get_layer("head_b").weights})
    base_before = base.get_weights()  # BatchNormalization's moving statistics included
    model_b.fit(xb, yb, batch_size=32, epochs=epochs, verbose=0)
    acc_head = accuracy(model_b, xb_test, yb_test)
    print(f"  test accuracy on digits 5-9, new head on the frozen base: {acc_head:.4f}")
    facts["base_bitwise_unchanged"] = verdict(
        "the frozen base (moving statistics included) is bit-for-bit unchanged by training "
        "model_b (np.array_equal on base.get_weights())",
        same_weights(base_before, base.get_weights()))
    acc_a_after = accuracy(model_a, xa_test, ya_test)
    print(f"  test accuracy on digits 0-4 (model_a, untouched): {acc_a_after:.4f}")
    facts["task_a_preserved"] = verdict(
        "model_a's accuracy on digits 0-4 is exactly what it was", acc_a_after == acc_a)

    # ----------------------------------------------------------------------------------
    heading("Transfer learning, phase 3: base.trainable = True, fine-tune at a lower rate")
    base.trainable = True
    # A new optimizer for the 10x lower learning rate, as in Keras. (The flag change alone
    # needs no recompile: the next step of model_b would already train the base.)
    model_b.compile(optimizer=lm.optimizers.Adam(learning_rate=1e-4), loss=classifier_loss(),
                    metrics=["accuracy"])
    model_b.summary()
    print(model_b.explain())
    facts["all_weights_train"] = verdict(
        "after unfreezing, model_b trains every weight except the moving statistics",
        {v.path for v in model_b.trainable_weights}
        == {v.path for v in model_b.weights if "moving" not in v.path})
    model_b.fit(xb, yb, batch_size=32, epochs=epochs, verbose=0)
    acc_fine = accuracy(model_b, xb_test, yb_test)
    facts["base_fine_tuned"] = verdict(
        "fine-tuning changed the base", not same_weights(base_before, base.get_weights()))
    acc_a_final = accuracy(model_a, xa_test, ya_test)

    heading("Transfer learning: test accuracies")
    print(f"  digits 0-4, model_a after pre-training:          {acc_a:.4f}")
    print(f"  digits 5-9, new head on the frozen base:         {acc_head:.4f}")
    print(f"  digits 5-9, after fine-tuning the whole model:   {acc_fine:.4f}")
    print(f"  digits 0-4, model_a after the base was fine-tuned for 5-9: {acc_a_final:.4f}")
    if not quick:
        facts["transfer_works"] = verdict(
            "the frozen base transfers: a new head alone reaches > 85% on digits 5-9",
            acc_head > 0.85)
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
