"""Transfer learning with a small CNN on scikit-learn's 8x8 digits, then gradual unfreezing.

    backbone: (8, 8, 1) -> Conv2D 16 "conv1" -> MaxPool -> Conv2D 32 "conv2" -> MaxPool
              -> Flatten (128 features)

Phase 1  pre-train backbone + `head_a` on digits 0-4.
Phase 2  a new model `model_b` (the same backbone, a new `head_b` for digits 5-9) freezes the
         backbone in its own scope: `model_b.freeze(backbone)`. No flag is written, so
         `model_a` would still train the backbone. Only `head_b` trains; the backbone is
         checked bit-for-bit unchanged, and model_a's accuracy on 0-4 is exactly kept.
Phase 3  gradual unfreezing inside ONE `fit` (fastai style) with
         `lm.callbacks.GradualUnfreezing([[conv1], [conv2]])`: the head trains
         alone for the first epoch, then the deepest group still frozen is released each
         epoch. Nothing is recompiled, so the optimizer state of the head (Adam's moments) is
         carried across every unfreeze; the example reads it at each boundary and checks it
         bit-for-bit. model_b was compiled with a per-group optimizer,
         `lm.optimizers.Partitioned({backbone: 0.1}, default=Adam(3e-3))`, so the backbone
         fine-tunes at a 10x lower rate than the head.

Each phase prints `explain()` (what trains and why not); phase 3 prints one line of it per
epoch. Images: the model graphs, drawn with `lm.utils.plot_model` into the output folder.

Run: python examples/transfer_digits.py   (writes examples/output/transfer_digits/)
"""
import os
import shutil

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import lamina as lm
from lamina.saving.model_io import optimizer_arrays

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "output",
                           "transfer_digits")


def heading(title):
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def verdict(text, ok):
    print(f"  VERDICT [{'ok' if ok else 'FAILED'}]: {text}")
    return ok


def load_tasks():
    """Task A = digits 0-4, task B = digits 5-9 (labels 0-4), as (n, 8, 8, 1) images in [0, 1],
    each split 70/30 with every class on both sides."""
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.3, random_state=0, stratify=digits.target)
    tasks = {}
    for name, low in (("A", 0), ("B", 5)):
        tr, te = (y_train >= low) & (y_train < low + 5), (y_test >= low) & (y_test < low + 5)
        tasks[name] = (x_train[tr], y_train[tr] - low, x_test[te], y_test[te] - low)
    return tasks


def build_backbone():
    return lm.Sequential([
        lm.Input((8, 8, 1)),
        lm.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        lm.layers.MaxPooling2D(name="pool1"),
        lm.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        lm.layers.MaxPooling2D(name="pool2"),
        lm.layers.Flatten(name="flatten"),
    ], name="backbone")


def with_head(backbone, head_name, model_name, optimizer=None):
    inputs = lm.Input((8, 8, 1), name="image")
    outputs = lm.layers.Dense(5, name=head_name)(backbone(inputs))
    model = lm.Model(inputs, outputs, name=model_name)
    model.compile(optimizer=optimizer or lm.optimizers.Adam(learning_rate=3e-3),
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def accuracy(model, x, y):
    return model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)["accuracy"]


def same_weights(before, after):
    return all(np.array_equal(b, a) for b, a in zip(before, after, strict=True))


def head_state(model, head):
    """The optimizer-state entries (Adam's mu and nu) of `head`'s weights, by name."""
    return {k: v for k, v in optimizer_arrays(model).items() if f"[{head.name}/" in k}


def trained_layers(model):
    names = []
    for row in model.explain():
        if row.trained and row.layer.name not in names:
            names.append(row.layer.name)
    return names


class PhaseReport(lm.callbacks.Callback):
    """Listed after GradualUnfreezing: at each epoch start, prints what trains (from
    `explain`) and checks the head's optimizer state against the end of the previous epoch
    (or `initial_state`, the end of the previous fit)."""

    def __init__(self, head, initial_state):
        super().__init__()
        self.head, self.previous = head, initial_state
        self.kept = []

    def on_epoch_begin(self, epoch, logs=None):
        now = head_state(self.model, self.head)
        self.kept.append(now.keys() == self.previous.keys()
                         and all(np.array_equal(now[k], self.previous[k]) for k in now))
        report = self.model.explain().as_dict()
        print(f"  epoch {epoch + 1}: trains {trained_layers(self.model)} "
              f"({report['trained_params']:,} params; frozen {report['frozen_params']:,}); "
              f"head's Adam state carried bit-for-bit: {self.kept[-1]}")

    def on_epoch_end(self, epoch, logs=None):
        self.previous = head_state(self.model, self.head)




def draw(model, path):
    """The model's graph as a PNG; without Graphviz's `dot` program, its DOT source instead."""
    if shutil.which("dot") is None:
        path = os.path.splitext(path)[0] + ".dot"
    lm.utils.plot_model(model, to_file=path, show_shapes=True)
    return path


def main(quick=False, out_dir=DEFAULT_OUT):
    epochs = 1 if quick else 15
    every = 1 if quick else 3
    lm.random.set_seed(0)
    os.makedirs(out_dir, exist_ok=True)
    xa, ya, xa_test, ya_test = (load_tasks()["A"])
    xb, yb, xb_test, yb_test = (load_tasks()["B"])
    if quick:  # a few steps on small slices
        xa, ya, xb, yb = xa[:96], ya[:96], xb[:96], yb[:96]
    facts = {}

    # ----------------------------------------------------------------------------------
    heading("Phase 1: pre-train backbone + head_a on digits 0-4")
    backbone = build_backbone()
    model_a = with_head(backbone, "head_a", "model_a")
    print(model_a.explain())
    model_a.fit(xa, ya, batch_size=32, epochs=epochs, verbose=0)
    acc_a = accuracy(model_a, xa_test, ya_test)
    print(f"  test accuracy on digits 0-4: {acc_a:.4f}")

    # ----------------------------------------------------------------------------------
    heading("Phase 2: model_b.freeze(backbone), train a new head_b on digits 5-9")
    # the backbone's rate is 10x lower (it only matters once it is unfrozen in phase 3)
    model_b = with_head(backbone, "head_b", "model_b", lm.optimizers.Partitioned(
        {backbone: 0.1}, default=lm.optimizers.Adam(learning_rate=3e-3)))
    head_b = model_b.get_layer("head_b")
    model_b.freeze(backbone)
    print(model_b.explain())
    print(lm.explain_layer(backbone.get_layer("conv1")))
    facts["flags_untouched"] = verdict(
        "a scoped freeze writes no flag: backbone and its layers read trainable=True",
        backbone.trainable and all(layer.trainable for layer in backbone.layers))
    facts["only_head_b_trains"] = verdict(
        "model_b trains exactly head_b's weights",
        {v.path for v in model_b.trainable_weights} == {v.path for v in head_b.weights})
    backbone_before = backbone.get_weights()
    model_b.fit(xb, yb, batch_size=32, epochs=epochs, verbose=0)
    acc_head = accuracy(model_b, xb_test, yb_test)
    print(f"  test accuracy on digits 5-9, new head on the frozen backbone: {acc_head:.4f}")
    facts["frozen_backbone_bitwise_unchanged"] = verdict(
        "the backbone is bit-for-bit unchanged by training model_b (np.array_equal)",
        same_weights(backbone_before, backbone.get_weights()))
    acc_a_kept = accuracy(model_a, xa_test, ya_test)
    facts["task_a_accuracy_kept"] = verdict(
        f"model_a's accuracy on digits 0-4 is exactly what it was ({acc_a_kept:.4f})",
        acc_a_kept == acc_a)

    # ----------------------------------------------------------------------------------
    heading("Phase 3: gradual unfreezing in one fit, backbone at a 10x lower rate")
    groups = [[backbone.get_layer("conv1")], [backbone.get_layer("conv2")]]
    model_b.unfreeze(backbone)  # GradualUnfreezing re-freezes the groups at the start of fit
    report = PhaseReport(head_b, head_state(model_b, head_b))
    facts["head_has_optimizer_state"] = verdict(
        "the head's Adam moments are non-zero after phase 2 (there is state to keep)",
        all(np.any(v != 0) for v in report.previous.values()) and len(report.previous) == 4)
    phase3_epochs = 1 + len(groups) * every
    model_b.fit(xb, yb, batch_size=32, epochs=phase3_epochs, verbose=0, callbacks=[
        lm.callbacks.GradualUnfreezing(groups, start_epoch=1, every=every), report])
    print(model_b.explain())
    acc_fine = accuracy(model_b, xb_test, yb_test)
    facts["head_optimizer_state_kept"] = verdict(
        "at every epoch boundary of phase 3 (each unfreeze included) the head's Adam moments "
        "are exactly those the previous step left: no reset, no recompile",
        len(report.kept) == phase3_epochs and all(report.kept))
    facts["backbone_fine_tuned"] = verdict(
        "after the last unfreeze every backbone layer with weights changed",
        all(not np.array_equal(b, a)
            for b, a in zip(backbone_before, backbone.get_weights(), strict=True)))
    facts["all_train_at_the_end"] = verdict(
        "at the end model_b trains every weight", trained_layers(model_b)
        == ["conv1", "conv2", "head_b"])
    paths = [draw(model, os.path.join(out_dir, f"{model.name}.png"))
             for model in (model_a, model_b)]
    print(f"  model graphs: {paths}")

    heading("Transfer learning: test accuracies")
    print(f"  digits 0-4, model_a after pre-training:                {acc_a:.4f}")
    print(f"  digits 5-9, new head on the frozen backbone:           {acc_head:.4f}")
    print(f"  digits 5-9, after gradual unfreezing:                  {acc_fine:.4f}")
    if not quick:
        facts["frozen_backbone_transfers"] = verdict(
            "a new head alone on the frozen backbone reaches >= 90% on digits 5-9",
            acc_head >= 0.90)
        facts["fine_tuning_reaches_95"] = verdict(
            "after gradual unfreezing model_b reaches >= 95% on digits 5-9", acc_fine >= 0.95)
    print(f"  all claims verified: {all(facts.values())}")
    return facts


if __name__ == "__main__":
    results = main()
    raise SystemExit(0 if all(results.values()) else 1)
