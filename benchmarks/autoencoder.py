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

Repetitions alternate the order; prints median seconds per step and ratios to Keras, and
the autotune's decisions (count and seconds, `autotune.tuning_stats`).

`--per-layer` is the experiment behind the autotune's design: the lamina step compiled with
each choice vector, every convolution on XLA's lowering but one, which takes each of its
alternatives in turn ("patches"; XLA's forward with the "hybrid" backward; transposes:
"dilated", with XLA's or "hybrid" for the convolution inside it), plus the autotune's own
choice; each is timed against the all-XLA step in one process.

    python benchmarks/autoencoder.py [--reps 3] [--steps 8] [--per-layer]
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


class Pinned:
    """Replaces lamina's plans so that the convolutions of these shapes take given
    lowerings: `choices[key] = (forward, training)`, keys as `seen` records them (x shape,
    kernel shape; "T" first for transposes), `choices["inner"]` for any other convolution."""

    def __init__(self):
        from lamina.core.lowering import conv_transpose, convolution
        self.choices, self.seen = {}, []
        self.plan, self.transpose_plan = convolution.plan, conv_transpose.transpose_plan
        convolution.plan = self._plan
        conv_transpose.transpose_plan = self._transpose_plan

    def _pick(self, key, default, *args):
        if key not in self.seen:
            self.seen.append(key)
        chosen = self.choices.get(key, None if key[0] == "T" else self.choices.get("inner"))
        return default(*args) if chosen is None else chosen

    def _plan(self, x, kernel, *args):
        return self._pick((x.shape, kernel.shape), self.plan, x, kernel, *args)

    def _transpose_plan(self, x, kernel, *args):
        return self._pick(("T", x.shape, kernel.shape), self.transpose_plan, x, kernel, *args)


def per_layer(lm, x, reps, steps):
    """The --per-layer experiment (module docstring)."""
    from lamina.core.lowering import autotune
    pinned = Pinned()
    variants = {"all-xla": stepper(lm, "xla", x)[1]}
    layers = [k for k in pinned.seen if (k[1] if k[0] == "T" else k[0])[0] == len(x)]
    xla = {key: ("xla", "xla") for key in layers}
    configs = {}
    for i, key in enumerate(layers):
        if key[0] == "T":
            for inner in ("xla", "hybrid"):
                configs[f"layer {i} dilated, inner {inner}"] = {
                    **xla, key: ("dilated", "dilated"), "inner": (inner, inner)}
        else:
            for plan in (("patches", "patches"), ("xla", "hybrid")):
                configs[f"layer {i} {plan[1]}"] = {**xla, key: plan}
    configs["autotune"] = {}
    print(f"layers (x, kernel): {layers}", flush=True)
    for name, choices in configs.items():
        pinned.choices = choices
        first, variants[name] = stepper(lm, None, x)
        print(f"  built {name:<32} first two steps {first:.1f} s", flush=True)
    print(f"  autotune: {autotune.tuning_stats()}, chosen:")
    for key, name in autotune.memory().items():
        print(f"    {key} -> {name}")
    times = timed(variants, reps, steps)
    print(f"\nload {os.getloadavg()[0]:.1f}; median s/step, speed vs all-xla (per rep):")
    for name, t in times.items():
        ratios = [b / v for b, v in zip(times["all-xla"], t, strict=True)]
        print(f"  {name:<32} {statistics.median(t):.3f}  {statistics.median(ratios):.2f} "
              f"({' / '.join(f'{r:.2f}' for r in ratios)})")


def timed(variants, reps, steps):
    """Seconds per step of each variant, per repetition, the order alternating."""
    times = {name: [] for name in variants}
    for rep in range(reps):
        for name in list(variants) if rep % 2 == 0 else list(variants)[::-1]:
            start = time.perf_counter()
            for _ in range(steps):
                variants[name]()
            times[name].append((time.perf_counter() - start) / steps)
    return times


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
    p.add_argument("--per-layer", action="store_true")
    args = p.parse_args(argv)
    import numpy as np

    import lamina as lm
    from lamina.core.lowering import autotune
    x = np.random.default_rng(0).uniform(size=(args.batch, 28, 28, 1)).astype(np.float32)
    if args.per_layer:
        return per_layer(lm, x, args.reps, args.steps)
    variants = {"lamina": (lm, None), "lamina-xla": (lm, "xla")}
    try:
        import keras
        variants["keras-jax"] = (keras, None)
    except ImportError as err:
        print(f"Keras skipped: {err}")
    steps, first = {}, {}
    for name, (lib, lowering) in variants.items():
        tuned = autotune.tuning_stats()
        first[name], steps[name] = stepper(lib, lowering, x)
        print(f"{name:<11} first two steps (compile, autotune) {first[name]:.1f} s; "
              f"autotune {autotune.tuning_stats()['decisions'] - tuned['decisions']} "
              f"decisions, {autotune.tuning_stats()['seconds'] - tuned['seconds']:.1f} s",
              flush=True)
    times = timed(steps, args.reps, args.steps)
    for rep in range(args.reps):
        print(f"rep {rep} " + ", ".join(f"{name} {t[rep]:.3f}" for name, t in times.items()))
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
