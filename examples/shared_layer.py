"""A layer shared by two models: freezing a *model* versus freezing its *layers*.

The question this project started from: "what is the difference between making a Keras model
non-trainable and making each of its layers non-trainable?" It matters as soon as one layer
instance is shared by two models:

    inp1 = Input((8,))                      inp2 = Input((8,))
    shared = Dense(16)
    model1 = Model(inp1, head1(shared(inp1)))   model2 = Model(inp2, head2(shared(inp2)))

Part 1  `model1.trainable = False`       a gate over model1's scope only: model2 still trains
                                         `shared`, and `shared.trainable` still reads True.
                                         (In Keras 3 this rewrites every sublayer's flag, so
                                         model2 silently stops training `shared`.)
Part 2  `model1.layers[1].trainable = False`   the layer's own flag: frozen in every model.
Part 3  `model1.freeze(shared)`          frozen inside model1's scope only; no flag touched.

Every claim is checked by comparing `get_weights()` before and after a training step with
`np.array_equal`, and `main()` returns the verified facts as a dict.

Run: python examples/shared_layer.py
"""
import numpy as np

import lamina as lm


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def build_models():
    """Two functional models that share one Dense layer (and are both compiled)."""
    shared = lm.layers.Dense(16, activation="relu", name="shared")
    inp1 = lm.Input((8,), name="x1")
    model1 = lm.Model(inp1, lm.layers.Dense(3, name="head1")(shared(inp1)), name="model1")
    inp2 = lm.Input((8,), name="x2")
    model2 = lm.Model(inp2, lm.layers.Dense(1, name="head2")(shared(inp2)), name="model2")
    model1.compile(optimizer=lm.optimizers.Adam(learning_rate=1e-2),
                   loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True))
    model2.compile(optimizer=lm.optimizers.Adam(learning_rate=1e-2), loss="mse")
    return model1, model2, shared


def make_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y1 = np.argmax(x[:, :3], axis=1)  # 3 classes for model1
    y2 = x.sum(axis=1, keepdims=True).astype("float32")  # a regression target for model2
    return x, y1, y2


def train_and_compare(model, x, y, layers, steps):
    """Train `model` for `steps` batches; for each layer, did its weights change at all?"""
    before = {layer.name: layer.get_weights() for layer in layers}
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
    changed = {}
    for layer in layers:
        after = layer.get_weights()
        same = all(np.array_equal(b, a) for b, a in zip(before[layer.name], after, strict=True))
        changed[layer.name] = not same
        print(f"    {model.name}.train_on_batch x{steps}: '{layer.name}' weights "
              f"np.array_equal(before, after) = {same}  -> "
              f"{'CHANGED' if not same else 'unchanged'}")
    print(f"    (last loss of {model.name}: {float(loss):.4f})")
    return changed


def show_summary(model):
    """Print `model.summary()` and return its text (so claims about it can be checked)."""
    lines = []
    model.summary(print_fn=lambda line: (print(line), lines.append(line)))
    return "\n".join(lines)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def main(quick=False):
    steps = 2 if quick else 5
    lm.random.set_seed(0)
    model1, model2, shared = build_models()
    head1, head2 = model1.get_layer("head1"), model2.get_layer("head2")
    x, y1, y2 = make_data()
    facts = {}

    heading("Shared layer: the two models")
    print("model1.layers:", [layer.name for layer in model1.layers],
          "-> model1.layers[1] is shared:", model1.layers[1] is shared)
    model1.summary()
    model2.summary()

    # ----------------------------------------------------------------------------------
    heading("Part 1: model1.trainable = False  (a gate over model1's scope)")
    model1.trainable = False
    print(f"  model1.trainable = {model1.trainable}; shared.trainable = {shared.trainable}; "
          f"head1.trainable = {head1.trainable}  (sublayer flags are untouched)")
    text1 = show_summary(model1)
    model2.summary()
    report = model1.explain()
    print(report)
    facts["part1_flag_still_true"] = verdict(
        "shared.trainable still reads True after model1.trainable = False",
        shared.trainable is True and head1.trainable is True)
    facts["part1_model1_summary_frozen"] = verdict(
        "model1 has no trainable weights (summary: 'Trainable params: 0')",
        "Trainable params: 0\n" in text1 and model1.trainable_weights == [])
    facts["part1_explain_names_gate"] = verdict(
        "model1.explain() names the flag that closed the path: 'model1.trainable' is False",
        all(not row.trained and any("'model1.trainable' is False" in r for r in row.reasons)
            for row in report))
    print("  Training model2 (live: no recompile after the flag change):")
    changed = train_and_compare(model2, x, y2, [shared, head2], steps)
    facts["part1_model2_trains_shared"] = verdict(
        "model2 still trains the shared layer", changed["shared"] and changed["head2"])
    print("  Training model1 itself:")
    try:
        model1.train_on_batch(x, y1)
        refused = False
    except lm.NotTrainableError as error:
        refused = True
        print("    lm.NotTrainableError:", str(error).splitlines()[0], "...")
    facts["part1_model1_training_refused"] = verdict(
        "training model1 raises NotTrainableError instead of silently doing nothing", refused)
    model1.trainable = True
    print("  model1.trainable = True again:")
    changed = train_and_compare(model1, x, y1, [shared, head1], steps)
    facts["part1_restored"] = verdict(
        "restoring the flag restores the previous situation: model1 trains shared and head1",
        changed["shared"] and changed["head1"] and model1.trainable_weights == model1.weights)

    # ----------------------------------------------------------------------------------
    heading("Part 2: model1.layers[1].trainable = False  (the shared layer's own flag)")
    layer = model1.layers[1]
    print(f"  model1.layers[1] is shared: {layer is shared}")
    layer.trainable = False
    model1.summary()
    model2.summary()
    print(model2.explain())
    print("  Training model1:")
    changed1 = train_and_compare(model1, x, y1, [shared, head1], steps)
    print("  Training model2:")
    changed2 = train_and_compare(model2, x, y2, [shared, head2], steps)
    facts["part2_frozen_in_model1"] = verdict(
        "model1 does not change shared (but still trains head1)",
        not changed1["shared"] and changed1["head1"])
    facts["part2_frozen_in_model2"] = verdict(
        "model2 does not change shared either: a layer's flag is global to the layer",
        not changed2["shared"] and changed2["head2"])
    facts["part2_explain_names_flag"] = verdict(
        "model2.explain() names 'shared.trainable' is False",
        any("'shared.trainable' is False" in r
            for r in model2.explain().why("shared/kernel").reasons))
    layer.trainable = True

    # ----------------------------------------------------------------------------------
    heading("Part 3: model1.freeze(shared)  (frozen in model1's scope only)")
    model1.freeze(shared)
    print(f"  shared.trainable = {shared.trainable}; model1.frozen_layers = "
          f"{[layer.name for layer in model1.frozen_layers]}")
    model1.summary()
    model2.summary()
    print(model1.explain())
    print("  Training model1:")
    changed1 = train_and_compare(model1, x, y1, [shared, head1], steps)
    print("  Training model2:")
    changed2 = train_and_compare(model2, x, y2, [shared, head2], steps)
    facts["part3_flag_untouched"] = verdict(
        "model1.freeze(shared) touches no flag: shared.trainable reads True",
        shared.trainable is True)
    facts["part3_frozen_in_model1"] = verdict(
        "model1 does not change shared (but still trains head1)",
        not changed1["shared"] and changed1["head1"])
    facts["part3_model2_trains_shared"] = verdict(
        "model2 still trains shared", changed2["shared"] and changed2["head2"])
    facts["part3_explain_names_freeze"] = verdict(
        "model1.explain() says model1 froze shared in its scope",
        any("model1.freeze" in r for r in model1.explain().why("shared/kernel").reasons))
    model1.unfreeze(shared)

    heading("Shared layer: summary")
    print("  model1.trainable = False        -> frozen in model1 only; model2 trains 'shared';"
          " flags untouched")
    print("  model1.layers[1].trainable = False -> 'shared' frozen in model1 AND model2")
    print("  model1.freeze(shared)           -> 'shared' frozen in model1 only; model2 trains it")
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
