"""Issue 7's GPU check: lamina against the hand-written JAX + optax loop on one GPU, same run.

Runs in this process, in pairs (lamina and the reference one after the other): W1 at the
default sizes (batch 128), W1 big (batch 1024, hidden 4096), W4 CNN and W3 `GAN.fit` against
the reference's fused loop; then once: W1 with `steps_per_execution=32` (batches gathered on
the device), W1 big with the "mixed_bfloat16" policy (in TFLOP/s against the card's bfloat16
dense peak), and W3 by `train_on_batch` against the reference's unfused loop.

    python benchmarks/gpu.py --reps 3 --out gpu.jsonl   # on the GPU machine, ~3 minutes

`--reps N` repeats the paired figures (W1, W1 big, W4, GAN.fit against the fused loop), the
order alternating, and reports the median ratio with each repetition's.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C
import workloads as W

H100_BF16_DENSE_TFLOPS = 989.0  # SXM; the PCIe card is 756


def _lamina_mlp_variant(s, policy=None, steps_per_execution=None, on_device=False):
    """W1 through `fit` with a dtype policy and/or steps_per_execution; samples/s."""
    import jax

    import lamina as lm

    x, y = C.mlp_data(s.mlp_samples)
    if on_device:
        x, y = jax.device_put(x), jax.device_put(y)
    lm.reset_names()
    with lm.mixed_precision.policy_scope(policy or "float32"):
        model = W.mlp_model(s.mlp_hidden)
    kwargs = {}
    if steps_per_execution:
        kwargs["steps_per_execution"] = steps_per_execution
    model.compile(optimizer=lm.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy",
                  **kwargs)
    times, losses = W.timed_fit(model, x, y, s.mlp_batch, s.mlp_epochs)
    res = C.epoch_result(len(x), times, losses)
    if steps_per_execution:  # each call gathers its batches from the device arrays
        res["sanity"] = {"batches gathered inside the call": bool(
            model._trainer.compiled_steps("multi", "gather"))
            and not model._trainer.compiled_steps("multi")}
    return res


def _lamina_gan_fit(s):
    """W3 through `lamina.models.GAN.fit` (both half-steps fused per batch); iterations/s
    over the epochs after the first (which compiles)."""
    import lamina as lm

    G, D, _ = W.gan_models()
    gan = lm.models.GAN(G, D, latent_dim=C.GAN_LATENT, seed=0)
    gan.compile(d_optimizer=lm.optimizers.Adam(C.GAN_LR, beta_1=C.GAN_BETA1),
                g_optimizer=lm.optimizers.Adam(C.GAN_LR, beta_1=C.GAN_BETA1),
                loss_fn="binary_crossentropy")
    real = C.gan_real_pool()
    steps = max(s.gan_iters // 3, 1)
    real = real[: steps * s.gan_batch]
    times = []

    class Timer(lm.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            float(logs["g_loss"])  # the logs are host floats: the epoch's work is done
            W.block(G)
            times.append(time.perf_counter() - self.t)

    gan.fit(real, batch_size=s.gan_batch, epochs=4, verbose=0, shuffle=True, callbacks=[Timer()])
    median = sorted(times[1:])[len(times[1:]) // 2]
    return {"iters_per_s": (real.shape[0] // s.gan_batch) / median, "epoch_times": times,
            "sanity": {"losses finite": bool(np.isfinite(times).all())}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=1,
                   help="repetitions of the paired figures, the order alternating")
    args = p.parse_args(argv)
    import jax
    import optax
    import reference_jax as R

    import lamina

    records = []

    def record(rep, name, impl_name, result, metric):
        rec = dict(rep=rep, name=name, impl=impl_name, value=result.get(metric), metric=metric,
                   sanity=result.get("sanity"), **{k: result[k] for k in result
                                                  if k in ("epoch_times", "first_epoch_s")})
        records.append(rec)
        print(f"rep {rep} {name:<24} {impl_name:<24} "
              f"{rec['value'] if rec['value'] is not None else '-':>14} {metric}  "
              f"sanity={rec['sanity']}", flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(rec, default=float) + "\n")
        return rec

    small = C.Sizes.quick() if args.quick else C.Sizes()  # W1 batch 128, hidden 512
    big = small.replace(mlp_batch=1024, mlp_hidden=4096)
    # (name, lamina, reference): run in pairs, lamina first on even repetitions
    pairs = [
        ("w1 batch 128", lambda: ("lamina fit", W.lamina_mlp(small)),
         lambda: ("jax hand-written", R.w1(small))),
        ("w1 big (1024 x 4096)", lambda: ("lamina fit", W.lamina_mlp(big)),
         lambda: ("jax hand-written", R.w1(big))),
        ("w4 cnn", lambda: ("lamina fit", W.lamina_cnn(small)),
         lambda: ("jax hand-written", R.w4(small))),
        ("w3 gan", lambda: ("lamina GAN.fit", _lamina_gan_fit(small)),
         lambda: ("jax fused", R.w3(small, fused=True))),
    ]

    print(f"devices: {jax.devices()}  jax {jax.__version__}  optax {optax.__version__}  "
          f"lamina {lamina.__version__}", flush=True)
    for rep in range(args.reps):
        for name, ours, ref in pairs:
            for run in ((ours, ref) if rep % 2 == 0 else (ref, ours)):
                metric = "iters_per_s" if name == "w3 gan" else "samples_per_s"
                impl_name, result = run()
                record(rep, name, impl_name, result, metric)
    # once: lamina-only variants and the unfused GAN loops
    record(0, "w1 batch 128", "lamina spe=32 on device",
           _lamina_mlp_variant(small, steps_per_execution=32, on_device=True),
           "samples_per_s")
    mixed = record(0, "w1 big (1024 x 4096)", "lamina mixed_bfloat16",
                   _lamina_mlp_variant(big, policy="mixed_bfloat16"), "samples_per_s")
    if mixed["value"]:
        tflops = mixed["value"] * 6 * C.mlp_param_count(big.mlp_hidden) / 1e12
        print(f"  mixed_bfloat16: {tflops:.1f} TFLOP/s = "
              f"{tflops / H100_BF16_DENSE_TFLOPS:.1%} of the H100 SXM bf16 dense peak "
              f"({H100_BF16_DENSE_TFLOPS:.0f})", flush=True)
    record(0, "w3 gan", "lamina train_on_batch", W.lamina_gan(small), "iters_per_s")
    record(0, "w3 gan", "jax unfused", R.w3(small), "iters_per_s")
    _print_ratios(records)
    return 0


TARGETS = {("w1 batch 128", "lamina fit"): 0.95, ("w1 big (1024 x 4096)", "lamina fit"): 0.95,
           ("w4 cnn", "lamina fit"): 0.95, ("w1 batch 128", "lamina spe=32 on device"): 2.0,
           ("w3 gan", "lamina GAN.fit"): 0.9}  # issue 7


def _print_ratios(records):
    """Median over repetitions of lamina / reference in the same repetition (a variant run
    once is set against the reference of repetition 0)."""
    import statistics

    value = {(r["rep"], r["name"], r["impl"]): r["value"] for r in records}
    reps = sorted({r["rep"] for r in records})
    print("\nratios (lamina / hand-written, same run; median over repetitions):")
    for name, ours, ref in [("w1 batch 128", "lamina fit", "jax hand-written"),
                            ("w1 batch 128", "lamina spe=32 on device", "jax hand-written"),
                            ("w1 big (1024 x 4096)", "lamina fit", "jax hand-written"),
                            ("w4 cnn", "lamina fit", "jax hand-written"),
                            ("w3 gan", "lamina train_on_batch", "jax unfused"),
                            ("w3 gan", "lamina GAN.fit", "jax fused")]:
        ratios = [value[(rep, name, ours)] / value[(rep, name, ref)] for rep in reps
                  if value.get((rep, name, ours)) and value.get((rep, name, ref))]
        if not ratios:
            continue
        median = statistics.median(ratios)
        target = TARGETS.get((name, ours))
        verdict = "" if target is None else \
            f"  (target >= {target}: {'yes' if median >= target else 'NO'})"
        print(f"  {name:<22} {ours:<26} / {ref:<18} = {median:.3f}"
              f"  [{' / '.join(f'{r:.2f}' for r in ratios)}]{verdict}")


if __name__ == "__main__":
    sys.exit(main())
