"""Fine-tune a MobileNetV2 backbone on scikit-learn's digits, upsampled to 32x32 RGB.

No download: the backbone starts from a random initialisation (`weights=None`), so the
numbers show the mechanics, not ImageNet transfer (with random weights and its
BatchNormalization layers in inference mode, the accuracy stays near chance here). With
`weights="imagenet"` (Keras's published file, downloaded once and hash-checked) the code is
the same.

Stage 1  the base frozen (`base.trainable = False`): only the new head trains; the base,
         BatchNormalization statistics included, is checked bit for bit unchanged.
Stage 2  the base unfrozen at a low rate; it was called with `training=False`, so its
         BatchNormalization layers keep their statistics (Keras 3 drops that argument and
         would overwrite them: docs/transfer_learning.md).
Stage 3  gradual unfreezing by the family's stages (`mobilenet_v2.stages`): the deepest
         stage first, under a discriminative rate for the base (`Partitioned`).

Run: python examples/transfer_learning_backbone.py
"""
import numpy as np
from sklearn.datasets import load_digits

import lamina as lm
from lamina.applications import mobilenet_v2


def digits_32x32():
    """The 8x8 digits scaled to [0, 255], upsampled 4x to 32x32 and repeated to RGB."""
    digits = load_digits()
    images = np.kron(digits.images, np.ones((4, 4))) * (255.0 / 16.0)
    images = images[..., None].repeat(3, axis=-1).astype("float32")
    order = np.random.default_rng(0).permutation(len(images))[:600]
    return images[order[:480]], digits.target[order[:480]], images[order[480:]], \
        digits.target[order[480:]]


def build():
    base = mobilenet_v2.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3),
                                    include_top=False, pooling="avg")
    inputs = lm.Input((32, 32, 3))
    x = lm.layers.RandomTranslation(0.1, 0.1)(inputs)        # augmentation (training only)
    x = lm.layers.Rescaling(1 / 127.5, offset=-1)(x)         # mobilenet_v2.preprocess_input
    x = base(x, training=False)
    outputs = lm.layers.Dense(10, name="head")(lm.layers.Dropout(0.2)(x))
    return base, lm.Model(inputs, outputs, name="digits_classifier")


def compile_model(model, optimizer):
    model.compile(optimizer=optimizer, metrics=["accuracy"],
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True))


def values(layer):
    return [np.asarray(w).copy() for w in layer.weights]


def unchanged(before, layer):
    return all(np.array_equal(a, np.asarray(w)) for a, w in zip(before, layer.weights, strict=True))


def main():
    lm.utils.set_random_seed(0)
    x_train, y_train, x_test, y_test = digits_32x32()
    base, model = build()
    fit = {"batch_size": 32, "verbose": 0}

    print("Stage 1: base.trainable = False, train the head")
    base.trainable = False
    compile_model(model, lm.optimizers.Adam(1e-2))
    before = values(base)
    model.fit(x_train, y_train, epochs=3, **fit)
    frozen = unchanged(before, base)
    trained = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(f"  trainable parameters: {trained:,}; base bit for bit unchanged: {frozen}")
    print(f"  test accuracy: {model.evaluate(x_test, y_test, verbose=0)[1]:.3f}")

    print("Stage 2: base.trainable = True at a low rate; training=False keeps BN statistics")
    base.trainable = True
    compile_model(model, lm.optimizers.Adam(1e-3))
    bn = base.get_layer("Conv_1_bn")
    statistics = [np.asarray(bn.moving_mean).copy(), np.asarray(bn.moving_variance).copy()]
    model.fit(x_train, y_train, epochs=2, **fit)
    kept = (np.array_equal(statistics[0], np.asarray(bn.moving_mean))
            and np.array_equal(statistics[1], np.asarray(bn.moving_variance)))
    print(f"  BatchNormalization statistics kept: {kept}")
    print(f"  test accuracy: {model.evaluate(x_test, y_test, verbose=0)[1]:.3f}")

    print("Stage 3: gradual unfreezing by stages, the base at a tenth of the head's rate")
    stages = mobilenet_v2.stages(base)
    print("  stages: " + ", ".join(f"{g[0].name}..{g[-1].name}" for g in stages))
    shallow = values(base.get_layer("Conv1"))
    compile_model(model, lm.optimizers.Partitioned({base: 0.1},
                                                   default=lm.optimizers.Adam(1e-3)))
    unfreezing = lm.callbacks.GradualUnfreezing([sum(stages[:4], []), stages[4]],
                                                start_epoch=1)
    model.fit(x_train, y_train, epochs=2, callbacks=[unfreezing], **fit)
    stem_frozen = unchanged(shallow, base.get_layer("Conv1"))
    print(f"  stem unchanged (its group is still frozen): {stem_frozen}")
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    print(f"  test accuracy: {accuracy:.3f}")
    return {"base_frozen": frozen, "statistics_kept": kept, "stem_frozen": stem_frozen,
            "accuracy": accuracy}


if __name__ == "__main__":
    main()
