"""Inference and fine-tuning throughput of ResNet50 and MobileNetV2 at batch 32: lamina,
Keras 3 (JAX backend) and PyTorch side by side in one run (issue 19).

For each model, each repetition times, in alternating order: lamina and Keras in this
process (the same architecture from `lamina.applications` / `keras.applications`,
`weights=None`, a 10-class head), and PyTorch in a process of its own
(`applications_torch.py`, started with `--torch PYTHON`, $LAMINA_TORCH_PYTHON, or skipped).
Measured per framework, after one warm-up call that compiles:

- inference: seconds per `predict_on_batch` of 32 images (torch: `no_grad` forward, eval);
- fine-tuning: seconds per `train_on_batch` step of 32 images with every weight trainable,
  Adam 1e-4, sparse categorical cross-entropy from logits (torch: one Adam step).

Printed: images per second per framework (medians over repetitions) and the ratios lamina /
Keras and lamina / PyTorch of each repetition's throughputs, medianed; `--out FILE` appends
them as JSON lines. Targets: >= 1.0x Keras 3 and >= 0.9x PyTorch.

    python benchmarks/applications.py [--size 224] [--steps 5] [--reps 3]
                                      [--models resnet50 mobilenet_v2] [--torch PYTHON]
                                      [--frameworks keras torch]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = Path(__file__).resolve().parent
CLASSES, BATCH = 10, 32


def build(lib, model, size):
    kwargs = {"weights": None, "input_shape": (size, size, 3), "classes": CLASSES,
              "classifier_activation": None}
    model = (lib.applications.ResNet50 if model == "resnet50"
             else lib.applications.MobileNetV2)(**kwargs)
    model.compile(optimizer=lib.optimizers.Adam(1e-4),
                  loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def timed(fn, steps):
    fn()  # compiles
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def measure(lib, model_name, size, steps):
    model = build(lib, model_name, size)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (BATCH, size, size, 3)).astype("float32")
    y = rng.integers(0, CLASSES, BATCH)
    inference = timed(lambda: np.asarray(model.predict_on_batch(x)), steps)
    training = timed(lambda: float(np.ravel(model.train_on_batch(x, y))[0]), steps)
    return {"params": model.count_params(), "inference_s": inference, "train_s": training}


def measure_torch(python, model_name, size, steps):
    out = subprocess.run([python, str(HERE / "applications_torch.py"), "--model", model_name,
                          "--size", str(size), "--batch", str(BATCH), "--steps", str(steps),
                          "--classes", str(CLASSES)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def torch_python(given):
    if given:
        return given
    if os.environ.get("LAMINA_TORCH_PYTHON"):
        return os.environ["LAMINA_TORCH_PYTHON"]
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def run_model(model_name, args, torch_exe):
    import keras

    import lamina as lm

    runners = {"lamina": lambda: measure(lm, model_name, args.size, args.steps)}
    if "keras" in args.frameworks:
        runners["keras"] = lambda: measure(keras, model_name, args.size, args.steps)
    if torch_exe and "torch" in args.frameworks:
        runners["torch"] = lambda: measure_torch(torch_exe, model_name, args.size, args.steps)
    reps = []
    for rep in range(args.reps):
        order = list(runners) if rep % 2 == 0 else list(reversed(runners))
        reps.append({name: runners[name]() for name in order})
        print(f"  {model_name} rep {rep}: " + ", ".join(
            f"{name} infer {r['inference_s']:.3f}s train {r['train_s']:.3f}s"
            for name, r in reps[-1].items()), flush=True)
    return reps


def summarise(model_name, reps, args):
    row = {"model": model_name, "size": args.size, "batch": BATCH, "steps": args.steps,
           "reps": len(reps)}
    for name in reps[0]:
        for kind in ("inference", "train"):
            row[f"{name}_{kind}_img_s"] = statistics.median(
                BATCH / r[name][f"{kind}_s"] for r in reps)
    for other in ("keras", "torch"):
        if other in reps[0]:
            for kind in ("inference", "train"):
                row[f"lamina_over_{other}_{kind}"] = statistics.median(
                    r[other][f"{kind}_s"] / r["lamina"][f"{kind}_s"] for r in reps)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2"])
    parser.add_argument("--torch", default=None)
    parser.add_argument("--frameworks", nargs="+", default=["keras", "torch"],
                        choices=["keras", "torch"], help="what lamina is compared with")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch_exe = torch_python(args.torch)
    rows = []
    for model_name in args.models:
        rows.append(summarise(model_name, run_model(model_name, args, torch_exe), args))
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
