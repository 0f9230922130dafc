"""Transfer learning with a MobileNetV2 backbone on scikit-learn's digits (32x32 RGB), no
download: pretrain on digits 0-4, transfer to digits 5-9 from 5 labels per class, and
compare with the same network trained from scratch on those 25 labels.

Pretraining  the whole network (base + a 5-class head) trains on 736 images of digits 0-4
             and is evaluated, in inference mode, on the 165 held out. Keras sets
             BatchNormalization's momentum to 0.999 in this family, made for ImageNet's long
             runs: after a few hundred steps its moving statistics are still near their
             initial values and inference stays at chance (Keras behaves the same). This run
             is short, so every BatchNormalization layer of the base gets momentum 0.9
             before the first step (`layer.momentum = 0.9`, public in Keras and lamina).
Stage 1      a new model for digits 5-9 holds the same base, called with `training=False`,
             a new head and augmentation. `base.trainable = False`: only the head trains,
             and the base, BatchNormalization statistics included, is bit for bit unchanged.
Stage 2      `base.trainable = True`, the stem and stages 1-2 kept frozen with
             `base.freeze_up_to("block_5_add")`, the top stages unfrozen one by one
             (`GradualUnfreezing`, deepest first) at a tenth of the head's rate
             (`Partitioned`). `training=False` keeps the pretrained statistics (Keras 3
             drops that argument and would overwrite them: docs/transfer_learning.md).
Scratch      the same architecture from a random start, on the same 25 labels with the same
             augmentation, for as many epochs as stages 1 and 2 together.

Each stage prints `explain()` summed by stage of the backbone (what trains, what the forward
pass updates, what is frozen and why) and the held-out accuracy. With `weights="imagenet"`
(Keras's published file, downloaded once) the pretraining stage is the ImageNet run instead.

Run: python examples/transfer_learning_backbone.py [seed]
"""
import sys

import numpy as np
from sklearn.datasets import load_digits

import lamina as lm
from lamina.applications import mobilenet_v2

LABELS_PER_CLASS = 5  # labelled images per target digit
BATCH = {"source": 32, "target": 25}  # both divide their training set
SOURCE_TRAIN = 736  # 23 batches of 32 (a smaller last batch would compile once more)
BN_MOMENTUM = 0.9
EPOCHS = {"pretraining": 15, "stage 1": 20, "stage 2": 30}
UNFREEZE_EVERY = 15  # stage 2: the deepest stage at epoch 0, the next one at epoch 15
GROUPS = ("stem", "stage 1", "stage 2", "stage 3", "stage 4", "head")


def digits_32x32(seed):
    """Source (digits 0-4, train and held out) and target (digits 5-9 relabelled 0-4, a few
    labels per class and the rest held out) as [0, 255] RGB images upsampled to 32x32."""
    digits = load_digits()
    images = np.kron(digits.images, np.ones((4, 4))) * (255.0 / 16.0)
    images = images[..., None].repeat(3, axis=-1).astype("float32")
    rng = np.random.default_rng(seed)
    source = rng.permutation(np.flatnonzero(digits.target < 5))
    labelled = np.concatenate([rng.permutation(np.flatnonzero(digits.target == d))
                               [:LABELS_PER_CLASS] for d in range(5, 10)])
    held_out = np.setdiff1d(np.flatnonzero(digits.target >= 5), labelled)
    target = digits.target - 5
    return {"source_train": (images[source[:SOURCE_TRAIN]],
                             digits.target[source[:SOURCE_TRAIN]]),
            "source_test": (images[source[SOURCE_TRAIN:]],
                            digits.target[source[SOURCE_TRAIN:]]),
            "target_train": (images[labelled], target[labelled]),
            "target_test": (images[held_out], target[held_out])}


def backbone():
    """A random-start MobileNetV2 (alpha 0.35, 32x32) whose BatchNormalization layers average
    their statistics with momentum 0.9 (see the module docstring)."""
    base = mobilenet_v2.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3),
                                    include_top=False, pooling="avg")
    for layer in base.layers:
        if isinstance(layer, lm.layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return base


def classifier(base, name, **call):
    """Augmentation, preprocessing, `base(x, **call)` and a new 5-class head."""
    inputs = lm.Input((32, 32, 3))
    x = lm.layers.RandomTranslation(0.1, 0.1)(inputs)        # augmentation (training only)
    x = lm.layers.RandomRotation(0.05)(x)
    x = lm.layers.Rescaling(1 / 127.5, offset=-1)(x)         # mobilenet_v2.preprocess_input
    x = base(x, **call)
    outputs = lm.layers.Dense(5, name=f"{name}_head")(lm.layers.Dropout(0.2)(x))
    return lm.Model(inputs, outputs, name=name)


def compile_model(model, optimizer):
    model.compile(optimizer=optimizer, metrics=["accuracy"],
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True))


def group_of(base):
    """{id(layer): its stage name} for the layers of the base's stages."""
    return {id(layer): name for name, stage in zip(GROUPS, mobilenet_v2.stages(base),
                                                   strict=False) for layer in stage}


def explain_by_stage(model, base):
    """`model.explain()` summed by stage of the base: {group: {"trained", "forward pass",
    "frozen": parameter counts}}, printed with the first reason of each frozen group."""
    groups, table, why = group_of(base), {}, {}
    for row in model.explain():
        group = groups.get(id(row.layer), "head")
        status = {"gradients": "trained", "forward pass": "forward pass"}.get(row.updated_by,
                                                                              "frozen")
        counts = table.setdefault(group, {"trained": 0, "forward pass": 0, "frozen": 0})
        counts[status] += int(np.prod(row.variable.shape))
        if status == "frozen" and row.reasons:
            why.setdefault(group, row.reasons[0])
    print(f"  explain() of '{model.name}', by stage of the base (parameters):")
    for group in GROUPS:
        counts = table[group]
        print(f"    {group:<8} trained {counts['trained']:>7,}  updated by the forward pass "
              f"{counts['forward pass']:>6,}  frozen {counts['frozen']:>7,}")
        if group in why:
            print(f"             frozen because {why[group]}")
    return table


def snapshot(model, base):
    """{group: [copies of its weights]} of every weight `model` holds."""
    groups, values = group_of(base), {}
    for row in model.explain():
        values.setdefault(groups.get(id(row.layer), "head"), []).append(
            np.asarray(row.variable).copy())
    return values


def changed(before, model, base):
    """The groups of which at least one weight differs from `before`."""
    after = snapshot(model, base)
    return {group for group, arrays in before.items()
            if any(not np.array_equal(a, b) for a, b in zip(arrays, after[group], strict=True))}


def statistics(base):
    return [np.asarray(v).copy() for layer in base.layers
            if isinstance(layer, lm.layers.BatchNormalization)
            for v in (layer.moving_mean, layer.moving_variance)]


def accuracy(model, data):
    """Held-out accuracy, in inference mode, with the whole set as one batch."""
    return float(model.evaluate(*data, batch_size=len(data[1]), verbose=0)[1])


def pretrain(base, data, fit):
    print("Pretraining on digits 0-4: the whole network trains")
    source = classifier(base, "source")
    compile_model(source, lm.optimizers.Adam(3e-3))
    explain_by_stage(source, base)
    source.fit(*data["source_train"], epochs=EPOCHS["pretraining"], batch_size=BATCH["source"],
               **fit)
    result = accuracy(source, data["source_test"])
    print(f"  held-out accuracy on digits 0-4 (inference mode): {result:.3f}")
    return result


def stage_1(base, model, data, fit):
    print(f"Stage 1, digits 5-9 from {LABELS_PER_CLASS} labels each: base.trainable = False, "
          "the new head trains")
    base.trainable = False
    compile_model(model, lm.optimizers.Adam(1e-2))
    trains = explain_by_stage(model, base)
    before = snapshot(model, base)
    model.fit(*data["target_train"], epochs=EPOCHS["stage 1"], batch_size=BATCH["target"], **fit)
    moved = changed(before, model, base)
    result = accuracy(model, data["target_test"])
    print(f"  weights changed in: {sorted(moved)}; held-out accuracy: {result:.3f}")
    return {"accuracy": result, "explain": trains, "changed": moved}


def stage_2(base, model, data, fit):
    print("Stage 2: base.trainable = True, stem and stages 1-2 frozen, the top stages "
          "unfrozen one by one at a tenth of the head's rate")
    base.trainable = True
    base.freeze_up_to("block_5_add")                        # scoped to base: no flag written
    stages = mobilenet_v2.stages(base)
    compile_model(model, lm.optimizers.Partitioned({base: 0.1},
                                                   default=lm.optimizers.Adam(3e-3)))
    unfreezing = lm.callbacks.GradualUnfreezing([stages[3], stages[4]], start_epoch=0,
                                                every=UNFREEZE_EVERY, verbose=0)
    before, kept = snapshot(model, base), statistics(base)
    model.fit(*data["target_train"], epochs=EPOCHS["stage 2"], callbacks=[unfreezing],
              batch_size=BATCH["target"], **fit)
    moved = changed(before, model, base)
    trains = explain_by_stage(model, base)
    same = all(np.array_equal(a, b) for a, b in zip(kept, statistics(base), strict=True))
    result = accuracy(model, data["target_test"])
    print(f"  weights changed in: {sorted(moved)}; BatchNormalization statistics kept: "
          f"{same}; held-out accuracy: {result:.3f}")
    return {"accuracy": result, "explain": trains, "changed": moved, "statistics_kept": same}


def from_scratch(data, fit):
    epochs = EPOCHS["stage 1"] + EPOCHS["stage 2"]
    print(f"From scratch: the same architecture, random start, the same {LABELS_PER_CLASS} "
          f"labels per digit, {epochs} epochs")
    model = classifier(backbone(), "scratch")
    compile_model(model, lm.optimizers.Adam(3e-3))
    model.fit(*data["target_train"], epochs=epochs, batch_size=BATCH["target"], **fit)
    result = accuracy(model, data["target_test"])
    print(f"  held-out accuracy: {result:.3f}")
    return result


def main(seed=0):
    lm.utils.set_random_seed(seed)
    data = digits_32x32(seed)
    fit = {"verbose": 0}
    base = backbone()
    facts = {"source_accuracy": pretrain(base, data, fit)}
    model = classifier(base, "digits_5_to_9", training=False)
    facts["stage 1"] = stage_1(base, model, data, fit)
    facts["stage 2"] = stage_2(base, model, data, fit)
    facts["scratch_accuracy"] = from_scratch(data, fit)
    gain = facts["stage 2"]["accuracy"] - facts["scratch_accuracy"]
    print(f"Held-out accuracy on digits 5-9, transfer minus from scratch: {gain:+.3f}")
    return facts


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
