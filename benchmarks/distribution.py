"""Data-parallel throughput and scaling efficiency of lamina's `fit` on 1, 2 and 4 devices.

    python benchmarks/distribution.py                    # W1, strong scaling, 1/2/4 devices
    python benchmarks/distribution.py --scaling weak     # 128 samples per device
    python benchmarks/distribution.py --quick            # smoke run, numbers meaningless

Workload W1 (docs/design.md section 5): MLP 784-512-512-10 (relu, softmax), Adam 1e-3,
60,000 synthetic samples (`common.mlp_data`, the data of run.py's W1), the model of
`workloads.mlp_model`, `model.fit(verbose=0)` under `lamina.distribution.DataParallel`
over the first N devices. Throughput = samples / median epoch time from epoch 2 on (epoch 1
compiles). Scaling efficiency = throughput(N) / (N x throughput(1 device)).

- strong scaling (default): the global batch stays 128 (W1 as defined), so each of N
  devices gets 128/N samples; small steps are dispatch-bound and scale poorly.
- weak scaling: 128 samples per device (global batch 128 N), the usual data-parallel setup.

On a CPU-only machine the devices are forced host devices
(XLA_FLAGS=--xla_force_host_platform_device_count, set here before jax starts): they share
the same cores, so the numbers say little about scaling. On a machine with accelerators
jax.devices() are the real GPUs/TPUs and the forced host devices are not used. The row
"plain" is `fit` without a distribution (the single-device code path), for the overhead of
DataParallel on one device.
"""
import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C
import workloads as W


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", default="1,2,4", help="device counts to run (comma-separated)")
    p.add_argument("--scaling", choices=["strong", "weak"], default="strong")
    p.add_argument("--batch", type=int, default=128,
                   help="global batch (strong) or per-device batch (weak)")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--samples", type=int, default=60_000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="4,096 samples, 2 epochs")
    p.add_argument("--host-devices", type=int, default=4,
                   help="forced host (CPU) devices; 0 leaves XLA_FLAGS alone")
    p.add_argument("--out", default=None, help="append one JSON line per run here")
    args = p.parse_args(argv)
    args.devices = [int(n) for n in args.devices.split(",") if n.strip()]
    if args.quick:
        args.samples, args.epochs = 4096, 2
    return args


def w1_model(hidden):
    import lamina as lm

    model = W.mlp_model(hidden)
    model.compile(optimizer=lm.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy")
    return model


def run_one(args, devices, x, y):
    """One configuration: `devices` None means the plain single-device path."""
    import lamina as lm
    from lamina import distribution as ld

    n = 1 if devices is None else len(devices)
    batch = args.batch * n if args.scaling == "weak" else args.batch
    samples = len(x) - len(x) % batch  # every batch splits evenly over the devices
    lm.random.set_seed(0)
    model = w1_model(args.hidden)
    if devices is None:
        times, losses = W.timed_fit(model, x[:samples], y[:samples], batch, args.epochs)
    else:
        with ld.scope(ld.DataParallel(devices=devices)):
            times, losses = W.timed_fit(model, x[:samples], y[:samples], batch, args.epochs)
    steady = times[1:] or times
    return {"devices": "plain" if devices is None else n, "global_batch": batch,
            "samples": samples, "epoch_times_s": times, "losses": losses,
            "samples_per_s": samples / statistics.median(steady)}


def main(argv=None):
    args = parse_args(argv)
    if args.host_devices:
        flags = [f for f in os.environ.get("XLA_FLAGS", "").split()
                 if not f.startswith("--xla_force_host_platform_device_count")]
        os.environ["XLA_FLAGS"] = " ".join(
            flags + [f"--xla_force_host_platform_device_count={args.host_devices}"])
    import jax

    available = jax.devices()
    x, y = C.mlp_data(args.samples)
    print(f"W1 hidden {args.hidden}, {args.scaling} scaling, batch {args.batch}, "
          f"{args.samples} samples, {args.epochs} epochs on {len(available)} "
          f"{available[0].platform} device(s) ({available[0].device_kind}), jax "
          f"{jax.__version__}")
    configs = [None] + [available[:n] for n in args.devices if n <= len(available)]
    skipped = [n for n in args.devices if n > len(available)]
    if skipped:
        print(f"skipping {skipped} devices: only {len(available)} available")
    results, base = [], None
    for devices in configs:
        result = run_one(args, devices, x, y)
        if result["devices"] == 1:
            base = result["samples_per_s"]
        n = 1 if devices is None else len(devices)
        result["efficiency"] = (result["samples_per_s"] / (n * base)
                                if base and devices is not None else None)
        result.update(platform=available[0].platform, device_kind=available[0].device_kind,
                      scaling=args.scaling, hidden=args.hidden, host=platform.node(),
                      jax=jax.__version__, command=" ".join(sys.argv))
        results.append(result)
        eff = "-" if result["efficiency"] is None else f"{result['efficiency']:.2f}"
        print(f"devices {result['devices']!s:>5}  global batch {result['global_batch']:>5}  "
              f"{result['samples_per_s']:>12,.0f} samples/s  efficiency {eff}  "
              f"loss {result['losses'][0]:.3f} -> {result['losses'][-1]:.3f}")
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(result) + "\n")
    return results


if __name__ == "__main__":
    main()
