"""LoRA fine-tuning against full fine-tuning: step time and peak memory, lamina and Keras 3.

The model is a transformer-style stack: `--blocks` blocks of MultiHeadAttention (8 heads) +
LayerNormalization + a feed-forward pair (width -> 4*width -> width) + LayerNormalization,
on float inputs `(batch, seq, width)`, pooled, with a Dense(1) head; Adam 1e-4, MSE.

- full: every weight trains;
- lora: rank `--rank` adapters on the query and value projections of every block; the base
  weights are frozen, so the adapters, the query/value biases and the head train (what
  Keras's `enable_lora` leaves trainable when the other layers are frozen).

Every (framework, mode) runs in a fresh process (so peak memory is its own), the runs
interleaved over repetitions. Reported per run: the median step time over `--steps` steps
after two warm-up steps (the first compiles), and two peaks of resident memory above a
baseline taken once the runtime has started and the data exists (`memory.py`): `peak`, with
compilation, and `steady`, over the timed steps only (weights, optimizer state, gradients,
activations, compiled programs). lamina's runs also report XLA's cost analysis of the compiled
step (GFLOP, GB accessed): with only the adapters trained, the backward pass still computes
every activation gradient and skips only the frozen weights' gradients, so the FLOP ratio is
the floor of the step-time ratio when the step is compute-bound. And XLA's memory analysis of
the step (MB): its arguments (weights, optimizer state, batch), its outputs and how much of
them reuses donated arguments, and its temporaries (activations kept for the backward pass,
gradients in flight), which the step allocates on every call.
Printed: the medians and the ratios LoRA / full for each framework, and lamina / Keras.

    python benchmarks/lora.py [--quick] [--reps 2] [--blocks 8] [--width 512] [--rank 8]
                              [--torch PYTHON]   (PyTorch + PEFT: benchmarks/lora_torch.py)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from memory import current_mb, peak_mb, settle


def _data(args):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.seq, args.width)).astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")
    return x, y


def _build(lib, args):
    inputs = lib.Input((args.seq, args.width))
    h = inputs
    for i in range(args.blocks):
        attended = lib.layers.MultiHeadAttention(8, args.width // 8, name=f"mha{i}")(h, h)
        h = lib.layers.LayerNormalization(name=f"ln{i}a")(lib.layers.Add()([h, attended]))
        ff = lib.layers.Dense(4 * args.width, activation="relu", name=f"ff{i}a")(h)
        ff = lib.layers.Dense(args.width, name=f"ff{i}b")(ff)
        h = lib.layers.LayerNormalization(name=f"ln{i}b")(lib.layers.Add()([h, ff]))
    pooled = lib.layers.GlobalAveragePooling1D()(h)
    return lib.Model(inputs, lib.layers.Dense(1, name="head")(pooled))


def _lamina_lora(model, rank):
    model.enable_lora(rank, targets=["*query_dense", "*value_dense"])
    keep = ("lora_", "/query/bias", "/value/bias", "head/")
    for path, variable in ((w.path, w) for w in model.weights):
        if not any(k in path for k in keep):
            variable.trainable = False


def _keras_lora(model, rank):
    for layer in model.layers:
        if layer.name.startswith("mha"):
            for name in ("_key_dense", "_output_dense"):
                getattr(layer, name).trainable = False
            for name in ("_query_dense", "_value_dense"):
                getattr(layer, name).enable_lora(rank)
        elif layer.name != "head":
            layer.trainable = False


def _lamina_analysis():
    """Capture the arguments of lamina's compiled train step, so XLA's analyses of the
    compiled program can be read after the run: the cost analysis (FLOPs, bytes accessed)
    and the memory analysis (MB of arguments, of outputs, of outputs that reuse a donated
    argument, and of the temporary buffers the step allocates per call). A diagnostic that
    reads lamina's internals (`training.state.CompiledStep`), not its public API."""
    from lamina.training import state

    seen = {}
    call = state.CompiledStep.__call__

    def spy(self, train_state, *data):
        seen["step"], seen["args"] = self, (train_state._replace(other=None), train_state.other,
                                            *data)
        return call(self, train_state, *data)

    state.CompiledStep.__call__ = spy

    def analysis():
        compiled = seen["step"].jitted.lower(*seen["args"]).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        memory = compiled.memory_analysis()
        return {"gflop": cost["flops"] / 1e9,
                "gb_accessed": cost.get("bytes accessed", 0.0) / 1e9,
                **{f"xla_{name}_mb": getattr(memory, f"{name}_size_in_bytes") / 2**20
                   for name in ("argument", "output", "alias", "temp")}}
    return analysis


def worker(args):
    if args.framework == "keras":
        os.environ["KERAS_BACKEND"] = "jax"
        import keras as lib
    else:
        import lamina as lib
    import jax.numpy as jnp

    analysis = _lamina_analysis() if args.framework == "lamina" else None
    x, y = _data(args)
    jnp.zeros(1).block_until_ready()  # the runtime starts before the baseline
    settle()
    start = current_mb()
    model = _build(lib, args)
    if args.mode == "lora":
        (_keras_lora if args.framework == "keras" else _lamina_lora)(model, args.rank)
    model.compile(optimizer=lib.optimizers.Adam(1e-4), loss="mse")
    trained = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    def step():
        out = model.train_on_batch(x, y)
        return float(np.asarray(out[0] if isinstance(out, list) else out))  # waits for it

    step(), step()  # the first compiles
    peak_with_compile = peak_mb() - start
    settle()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    result = {"step_s": statistics.median(times), "peak_mb": peak_with_compile,
              "steady_mb": peak_mb() - start, "trained": trained,
              "params": int(model.count_params())}
    print(json.dumps({**result, **(analysis() if analysis else {})}))


def _run(args, framework, mode):
    if framework == "torch":  # PyTorch + PEFT, in the interpreter given by --torch
        cmd = [args.torch, os.path.join(os.path.dirname(__file__), "lora_torch.py"), mode]
    else:
        cmd = [sys.executable, __file__, "--worker", framework, mode]
    for name in ("blocks", "width", "seq", "batch", "rank", "steps"):
        cmd += [f"--{name}", str(getattr(args, name))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(os.path.dirname(__file__), "..", "src"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return None, proc.stderr.strip().splitlines()[-1:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "MODE"))
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--frameworks", default="lamina,keras")
    parser.add_argument("--torch", default=None, metavar="PYTHON",
                        help="an interpreter with torch and peft: adds PyTorch + PEFT")
    args = parser.parse_args()
    if args.worker:
        args.framework, args.mode = args.worker
        return worker(args)
    if args.quick:
        args.blocks, args.width, args.seq, args.steps, args.reps = 2, 64, 16, 3, 1
    print(f"blocks {args.blocks}, width {args.width}, seq {args.seq}, batch {args.batch}, "
          f"rank {args.rank}, {args.steps} timed steps, {args.reps} repetition(s)")
    results = {}
    if args.torch:
        args.frameworks += ",torch"
    configs = [(f, m) for f in args.frameworks.split(",") for m in ("full", "lora")]
    for rep in range(args.reps):
        for framework, mode in (configs if rep % 2 == 0 else configs[::-1]):
            result, error = _run(args, framework, mode)
            if error:
                print(f"  {framework} {mode}: failed: {error}")
                continue
            results.setdefault((framework, mode), []).append(result)
            flops = (f", {result['gflop']:.1f} GFLOP, {result['gb_accessed']:.2f} GB accessed, "
                     f"XLA MB: arguments {result['xla_argument_mb']:.0f}, temp "
                     f"{result['xla_temp_mb']:.0f}, outputs {result['xla_output_mb']:.0f} "
                     f"(reusing donated {result['xla_alias_mb']:.0f})"
                     if "gflop" in result else "")
            print(f"  rep {rep} {framework:6} {mode:4}: step {result['step_s'] * 1e3:8.1f} ms, "
                  f"peak +{result['peak_mb']:6.0f} MB (steady +{result['steady_mb']:6.0f} MB), "
                  f"trains {result['trained']:,} of {result['params']:,}{flops}")
    fields = ("step_s", "peak_mb", "steady_mb", "gflop")
    med = {k: {f: statistics.median(r[f] for r in v) for f in fields if f in v[0]}
           for k, v in results.items()}
    for framework in args.frameworks.split(","):
        if (framework, "full") in med and (framework, "lora") in med:
            full, lora = med[(framework, "full")], med[(framework, "lora")]
            flops = (f", FLOPs {lora['gflop'] / full['gflop']:.2f}x (XLA's cost analysis: the "
                     "floor of the time ratio when the step is compute-bound)"
                     if "gflop" in lora else "")
            print(f"{framework}: LoRA / full step time {lora['step_s'] / full['step_s']:.2f}x "
                  f"(target <= 0.6), peak memory {lora['peak_mb'] / full['peak_mb']:.2f}x, steady "
                  f"peak {lora['steady_mb'] / full['steady_mb']:.2f}x (target <= 0.5){flops}")
    for mode in ("full", "lora"):
        for other, label in (("keras", "Keras"), ("torch", "PyTorch + PEFT")):
            if ("lamina", mode) in med and (other, mode) in med:
                ours, theirs = med[("lamina", mode)], med[(other, mode)]
                print(f"{mode}: lamina / {label} step time "
                      f"{ours['step_s'] / theirs['step_s']:.2f}x, peak memory "
                      f"{ours['peak_mb'] / theirs['peak_mb']:.2f}x, steady peak "
                      f"{ours['steady_mb'] / theirs['steady_mb']:.2f}x (lower is better)")


if __name__ == "__main__":
    main()
