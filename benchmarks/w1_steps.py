"""Where W1's time per step goes: lamina's layers of machinery peeled off one by one.

W1 at batch 128 is dispatch-bound on a GPU, so the gap between lamina and the hand-written
JAX + optax loop is time per step spent outside the device's work. This measures, in one
process, repetition after repetition (the variants interleaved, so drift hits them alike):

- `jax hand-written`: the reference loop (`reference_jax.w1`: host gather, one jitted step);
- `lamina fit`: `model.fit(verbose=0)`, default settings (on an accelerator the training
  arrays go to the device once and each step gathers its batch: `training/data/device.py`);
- `lamina fit, host batches`: the same with the batches gathered on the host (the CPU path);
- `lamina Trainer.train_step`: the trainer's step on host batches in a plain loop (no fit);
- `lamina jitted step`: the compiled step itself on host batches (no trainer);
- `lamina Trainer.train_step_at`: the trainer's in-call gather in a plain loop;
- `lamina spe=K`: `compile(steps_per_execution=K)` (K batches gathered in each call).

Prints each repetition, then the median ratio of each variant to the hand-written loop.

    python benchmarks/w1_steps.py [--quick] [--reps 3] [--epochs 4] [--spe 32]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C
import workloads as W


def _median_epoch(run_epoch, epochs):
    """Median wall time of `run_epoch()` over epochs 2.. (the first compiles)."""
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        run_epoch()
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--spe", type=int, default=32)
    args = p.parse_args(argv)
    import jax
    import numpy as np
    import reference_jax as R

    import lamina as lm
    from lamina.training.data import device as device_data

    sizes = (C.Sizes.quick() if args.quick else C.Sizes()).replace(mlp_epochs=args.epochs)
    x, y = C.mlp_data(sizes.mlp_samples)
    n, batch = x.shape[0], sizes.mlp_batch
    rng = np.random.default_rng(0)

    def model(steps_per_execution=1):
        lm.reset_names()
        m = W.mlp_model(sizes.mlp_hidden)
        m.compile(optimizer=lm.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy",
                  steps_per_execution=steps_per_execution)
        m._trainer.ensure_ready(x[:batch])
        return m

    def fit(steps_per_execution=1, host=False):
        m = model(steps_per_execution)
        timer = W.epoch_timer(m)
        keep = device_data.gathers_single_steps
        if host:
            device_data.gathers_single_steps = lambda: False
        try:
            m.fit(x, y, batch_size=batch, epochs=args.epochs, verbose=0, callbacks=[timer])
        finally:
            device_data.gathers_single_steps = keep
        return statistics.median(timer.times[1:])

    def hand_written():
        return R.w1(sizes)["steady_epoch_s"]

    def trainer_loop():
        m = model()

        def epoch():
            for idx in C.shuffled_batches(n, batch, rng):
                m._trainer.train_step(x[idx], [y[idx]], None)
            W.block(m)
        return _median_epoch(epoch, args.epochs)

    def jitted_loop():
        trainer = model()._trainer
        plan = trainer._current_plan()
        step = trainer._compiled("train", "batch", None, plan)
        state = [plan.state(trainer.opt_state, trainer.metric_state)]

        def epoch():
            for idx in C.shuffled_batches(n, batch, rng):
                state[0], _ = step(state[0], x[idx], [y[idx]], None)
            jax.block_until_ready(state[0].trained)
        return _median_epoch(epoch, args.epochs)

    def gather_loop():
        m = model()
        arrays = jax.device_put((x, [y], None))

        def epoch():
            for idx in C.shuffled_batches(n, batch, rng):
                m._trainer.train_step_at(arrays, idx.astype(np.int32))
            W.block(m)
        return _median_epoch(epoch, args.epochs)

    variants = {
        "jax hand-written": hand_written,
        "lamina fit": fit,
        "lamina fit, host batches": lambda: fit(host=True),
        "lamina Trainer.train_step": trainer_loop,
        "lamina jitted step": jitted_loop,
        "lamina Trainer.train_step_at": gather_loop,
        f"lamina spe={args.spe}": lambda: fit(args.spe),
    }
    steps = -(-n // batch)
    print(f"devices: {jax.devices()}  jax {jax.__version__}  W1 batch {batch}, {n} samples",
          flush=True)
    ratios = {name: [] for name in variants}
    for rep in range(args.reps):
        base = None
        for name, measure in variants.items():
            epoch_s = measure()
            base = base or epoch_s
            ratios[name].append(base / epoch_s)
            print(f"rep {rep}  {name:<30} {n / epoch_s:>12,.0f} samples/s "
                  f"({epoch_s / steps * 1e6:7.1f} us/step)  {base / epoch_s:6.3f}x", flush=True)
    print("\nmedian ratio to the hand-written loop (per rep):")
    for name, values in ratios.items():
        print(f"  {name:<30} {statistics.median(values):6.3f}  "
              f"({' / '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
