"""The Keras tutorial's convolutional denoising autoencoder, lamina against Keras 3 (JAX).

Model (keras.io "Convolutional autoencoder for image denoising"): 28x28x1 -> Conv2D 32 3x3
relu same -> MaxPooling2D 2 same -> Conv2D 32 3x3 relu same -> MaxPooling2D 2 same ->
Conv2DTranspose 32 3x3 stride 2 relu same -> Conv2DTranspose 32 3x3 stride 2 relu same ->
Conv2D 1 3x3 sigmoid same; Adam, binary cross-entropy, batch 128, random images in [0, 1].

Variants, each its own model, built and compiled in this process, timed by `train_on_batch`
(each call returns the loss to the host, so each step is complete when it returns) after
two warm-up steps (compilation and, for lamina's default, the autotune, timed apart as
`first_s`):

- `lamina`: the default lowering choice (`LAMINA_CONV_LOWERING` unset: autotuned);
- `lamina-xla`: `LAMINA_CONV_LOWERING=xla`, XLA's convolutions everywhere;
- `keras-jax`: Keras 3 on its JAX backend (when `import keras` works).

Repetitions alternate the order; prints median seconds per step and ratios to Keras.

    python benchmarks/autoencoder.py [--reps 3] [--steps 8]
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")


def build(lib):
    layers = lib.layers
    inputs = layers.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(inputs)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    model = lib.Model(inputs, x)
    model.compile(optimizer=lib.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return model


def stepper(lib, lowering, x):
    """(first_s, step()) for a freshly built model of `lib` under `lowering`."""
    if lowering is None:
        os.environ.pop("LAMINA_CONV_LOWERING", None)
    else:
        os.environ["LAMINA_CONV_LOWERING"] = lowering
    model = build(lib)
    start = time.perf_counter()
    model.train_on_batch(x, x)
    model.train_on_batch(x, x)
    return time.perf_counter() - start, lambda: model.train_on_batch(x, x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args(argv)
    import numpy as np

    import lamina as lm
    x = np.random.default_rng(0).uniform(size=(args.batch, 28, 28, 1)).astype(np.float32)
    variants = {"lamina": (lm, None), "lamina-xla": (lm, "xla")}
    try:
        import keras
        variants["keras-jax"] = (keras, None)
    except ImportError as err:
        print(f"Keras skipped: {err}")
    steps, first = {}, {}
    for name, (lib, lowering) in variants.items():
        first[name], steps[name] = stepper(lib, lowering, x)
        print(f"{name:<11} first two steps (compile, autotune) {first[name]:.1f} s", flush=True)
    times = {name: [] for name in variants}
    for rep in range(args.reps):
        for name in list(variants) if rep % 2 == 0 else list(variants)[::-1]:
            start = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            times[name].append((time.perf_counter() - start) / args.steps)
            print(f"rep {rep} {name:<11} {times[name][-1]:.3f} s/step", flush=True)
    print(f"\nload {os.getloadavg()[0]:.1f}, cpus {os.cpu_count()}; median s/step "
          f"(ratio: keras-jax time / this time, per rep):")
    for name in variants:
        line = f"  {name:<11} {statistics.median(times[name]):.3f}"
        if "keras-jax" in times:
            ratios = [k / t for k, t in zip(times["keras-jax"], times[name], strict=True)]
            line += (f"   speed vs keras {statistics.median(ratios):.2f} "
                     f"({' / '.join(f'{r:.2f}' for r in ratios)})")
        print(line)


if __name__ == "__main__":
    main()
