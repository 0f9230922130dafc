"""W4 (the small CNN) by each of fit's two paths against the hand-written JAX + optax loop.

On an accelerator `fit` puts array data on the device and each step gathers its batch inside
the compiled call (`training/data/device.py`); on CPU it sends each step a batch gathered on
the host. This runs both paths on this machine, repetitions interleaved (the order
alternating, so drift hits them alike), with the hand-written loop
(`reference_jax.w4`: host gather, one jitted step):

- `jax hand-written`: the reference;
- `lamina fit, host batches`: `model.fit(verbose=0)` with batches from the host;
- `lamina fit, device gather`: the same with the in-call gather (the accelerator default).

`--gpu-lowerings` makes lamina lower convolution and max pooling as it does on a GPU
(`jax.lax.conv_general_dilated`, `jax.lax.reduce_window`: the hand-written loop's
operations) instead of its CPU lowerings, so a CPU run compares the programs a GPU runs.
Prints each repetition, then each variant's median ratio to the hand-written loop.

    python benchmarks/w4_paths.py [--reps 3] [--samples 4096] [--epochs 3] [--gpu-lowerings]
"""
import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C
import workloads as W


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--samples", type=int, default=None,
                   help="training samples (default: W4's size, 10,000)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--gpu-lowerings", action="store_true")
    args = p.parse_args(argv)
    import jax
    import reference_jax as R

    from lamina.core.lowering import pooling
    from lamina.training.data import device as device_data

    if args.gpu_lowerings:
        os.environ["LAMINA_CONV_LOWERING"] = "xla"
        pooling.select_pool_lowering = lambda *a, **k: "xla"
    sizes = C.Sizes(cnn_epochs=args.epochs,
                    cnn_samples=args.samples or C.Sizes().cnn_samples)

    def hand_written():
        return R.w4(sizes)["samples_per_s"]

    def lamina_fit(gather):
        keep = device_data.gathers_single_steps
        device_data.gathers_single_steps = lambda: gather
        try:
            return W.lamina_cnn(sizes)["samples_per_s"]
        finally:
            device_data.gathers_single_steps = keep

    variants = {"jax hand-written": hand_written,
                "lamina fit, host batches": lambda: lamina_fit(False),
                "lamina fit, device gather": lambda: lamina_fit(True)}
    print(f"devices: {jax.devices()}  jax {jax.__version__}  W4 {sizes.cnn_samples} samples, "
          f"batch {sizes.cnn_batch}, {args.epochs} epochs, lowerings: "
          f"{'GPU (forced)' if args.gpu_lowerings else 'this backend'}", flush=True)
    values = {name: [] for name in variants}
    for rep in range(args.reps):
        order = list(variants) if rep % 2 == 0 else list(variants)[::-1]
        for name in order:
            values[name].append(variants[name]())
            print(f"rep {rep}  {name:<28} {values[name][-1]:>10,.0f} samples/s", flush=True)
    reference = values["jax hand-written"]
    print("\nmedian ratio to the hand-written loop (per rep):")
    for name in list(variants)[1:]:
        ratios = [v / r for v, r in zip(values[name], reference, strict=True)]
        print(f"  {name:<28} {statistics.median(ratios):6.3f}  "
              f"({' / '.join(f'{r:.3f}' for r in ratios)})")


if __name__ == "__main__":
    main()
