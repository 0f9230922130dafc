"""Lean frozen training: peak memory of W2-style training with a large frozen base.

The model: inputs of width 784 -> `--layers` Dense(`--width`, relu) -> Dense(10), softmax
cross-entropy, Adam 1e-3, batch 128. The first `--frozen` hidden layers are frozen by their
layer flag before compile (`layer.trainable = False` in lamina and Keras 3; no gradient and
no optimizer state in the hand-written JAX loop; `requires_grad_(False)` and an Adam over
the rest in PyTorch). Defaults: 8 layers of width 4096, 6 frozen.

Every framework runs in a fresh process (so its peak is its own), the runs interleaved over
repetitions in alternating order. Each process imports its framework, makes the data, reads
its peak resident memory (`ru_maxrss`) as the baseline, then builds the model, compiles and
trains `--steps` steps; reported: the peak grown since the baseline (weights, optimizer
state, gradients, temporaries and compilation), the median step time after the first two
steps, and the trained and total parameter counts. The lamina and JAX workers also count
the matrix multiplications (`stablehlo.dot_general`) of their lowered train step and the
arrays of their optimizer state: a frozen kernel's gradient would add matmuls, its Adam
slots would add arrays.

    python benchmarks/frozen_memory.py [--quick] [--reps 3] [--width 4096] [--layers 8]
                                       [--frozen 6] [--torch PYTHON]

Only numpy and the standard library are imported at the top, so a PyTorch interpreter
without jax can run the torch worker.
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

IN, OUT, LR = 784, 10, 1e-3


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _data(args):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, IN)).astype("float32")
    y = rng.integers(0, OUT, size=(args.batch,)).astype("int32")
    return x, y


def _timed(step, steps):
    """Median time of `step()` (which waits for its result) after two untimed calls."""
    step(), step()  # the first compiles
    times = []
    for _ in range(steps - 2):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _dot_generals(lowered):
    return len(re.findall(r"stablehlo\.dot_general", lowered.as_text()))


def _keras_like(lib, args, x, y, lamina):
    """lamina or Keras 3: the same model built by the same public API."""
    hidden = [lib.layers.Dense(args.width, activation="relu") for _ in range(args.layers)]
    model = lib.Sequential([lib.Input((IN,)), *hidden, lib.layers.Dense(OUT)])
    for layer in hidden[:args.frozen]:
        layer.trainable = False
    model.compile(optimizer=lib.optimizers.Adam(LR),
                  loss=lib.losses.SparseCategoricalCrossentropy(from_logits=True))

    def step():
        out = model.train_on_batch(x, y)
        return float(np.asarray(out[0] if isinstance(out, list) else out))

    result = {"step_s": _timed(step, args.steps)}
    result["trained"] = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    result["params"] = int(model.count_params())
    if lamina:
        result.update(_lamina_program(model, x, y))
    return result


def _lamina_program(model, x, y):
    import jax
    trainer = model._trainer
    plan = trainer._current_plan()
    (step,) = trainer.compiled_steps("train")
    state = plan.state(trainer.opt_state, trainer.metric_state)
    lowered = step.jitted.lower(state._replace(other=None), state.other, x, [y], None)
    leaves = jax.tree_util.tree_leaves(trainer.opt_state)
    return {"dot_generals": _dot_generals(lowered),
            "opt_arrays": sum(np.ndim(a) > 0 for a in leaves),
            "opt_mb": sum(a.nbytes for a in leaves) / 2**20}


def _jax(args, x, y):
    """The hand-written loop: the gradient w.r.t. the trained layers only, optax Adam over
    them only, the trained state donated."""
    from functools import partial

    import jax
    import jax.numpy as jnp
    import optax
    widths = [IN] + [args.width] * args.layers + [OUT]
    keys = jax.random.split(jax.random.PRNGKey(0), len(widths) - 1)
    layers = [(jax.random.normal(k, (a, b)) * np.sqrt(2.0 / a), jnp.zeros((b,)))
              for k, a, b in zip(keys, widths[:-1], widths[1:], strict=True)]
    base, trained = layers[:args.frozen], layers[args.frozen:]
    adam = optax.adam(LR)

    def loss(params, base, xb, yb):
        h = xb
        for kernel, bias in base + params[:-1]:
            h = jax.nn.relu(h @ kernel + bias)
        logits = h @ params[-1][0] + params[-1][1]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @partial(jax.jit, donate_argnums=(0,))
    def train(state, base, xb, yb):
        params, opt_state = state
        value, grads = jax.value_and_grad(loss)(params, base, xb, yb)
        updates, opt_state = adam.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    box = [(trained, adam.init(trained))]
    lowered = train.lower(box[0], base, x, y)

    def step():
        box[0], value = train(box[0], base, x, y)
        return float(value)

    result = {"step_s": _timed(step, args.steps)}
    leaves = jax.tree_util.tree_leaves(box[0][1])
    result.update(trained=int(sum(np.prod(a.shape) for a in jax.tree_util.tree_leaves(trained))),
                  params=int(sum(np.prod(a.shape) for a in jax.tree_util.tree_leaves(layers))),
                  dot_generals=_dot_generals(lowered),
                  opt_arrays=sum(np.ndim(a) > 0 for a in leaves),
                  opt_mb=sum(a.nbytes for a in leaves) / 2**20)
    return result


def _torch(args, x, y):
    import torch
    from torch import nn
    torch.manual_seed(0)
    widths = [IN] + [args.width] * args.layers
    hidden = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)]
    model = nn.Sequential(*[m for layer in hidden for m in (layer, nn.ReLU())],
                          nn.Linear(args.width, OUT))
    for layer in hidden[:args.frozen]:
        layer.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trained, lr=LR)
    xb, yb = torch.from_numpy(x), torch.from_numpy(y).long()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        return float(loss)

    return {"step_s": _timed(step, args.steps), "trained": sum(p.numel() for p in trained),
            "params": sum(p.numel() for p in model.parameters())}


def worker(args):
    """One framework's run. Its framework is imported, and JAX's CPU client started, before
    the baseline is read: only what training needs counts."""
    lib = None
    if args.worker == "keras":
        os.environ["KERAS_BACKEND"] = "jax"
        import keras as lib
    elif args.worker == "lamina":
        import lamina as lib
    if args.worker == "torch":
        import torch
        torch.zeros(1).add_(1)
    else:
        import jax
        import optax  # noqa: F401  (the JAX loop's; lamina and Keras import it themselves)
        jax.block_until_ready(jax.numpy.zeros(1) + 1)
    x, y = _data(args)
    start = _rss_mb()
    if args.worker == "jax":
        result = _jax(args, x, y)
    elif args.worker == "torch":
        result = _torch(args, x, y)
    else:
        result = _keras_like(lib, args, x, y, lamina=args.worker == "lamina")
    peak = _rss_mb() - start  # read before anything else runs
    print(json.dumps({**result, "peak_mb": peak}))


def _run(args, framework):
    python = args.torch if framework == "torch" else sys.executable
    cmd = [python, __file__, "--worker", framework]
    for name in ("width", "layers", "frozen", "batch", "steps"):
        cmd += [f"--{name}", str(getattr(args, name))]
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def _report(args, results):
    med = {f: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
           for f, rs in results.items()}
    for framework, m in med.items():
        extra = (f", {m['dot_generals']:.0f} matmuls in the step, optimizer state "
                 f"{m['opt_arrays']:.0f} arrays / {m['opt_mb']:.0f} MB"
                 if "dot_generals" in m else "")
        print(f"median {framework:6}: peak +{m['peak_mb']:7.0f} MB, step "
              f"{m['step_s'] * 1e3:7.1f} ms{extra}")
    if "lamina" in med:
        ours = med["lamina"]["peak_mb"]
        for other, target in (("jax", "<= 1.05"), ("keras", "< 1.0"), ("torch", "< 1.0")):
            if other in med:
                print(f"lamina / {other} peak memory {ours / med[other]['peak_mb']:.3f}x "
                      f"(target {target})")
    if "lamina" in med and "jax" in med:
        same = med["lamina"]["dot_generals"] == med["jax"]["dot_generals"]
        print(f"matmuls in the compiled step: lamina {med['lamina']['dot_generals']:.0f}, "
              f"hand-written {med['jax']['dot_generals']:.0f} ({'same' if same else 'DIFFER'})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("lamina", "jax", "keras", "torch"))
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--frozen", type=int, default=6)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--frameworks", default="lamina,jax,keras")
    parser.add_argument("--torch", default=None, metavar="PYTHON",
                        help="an interpreter with torch: adds PyTorch")
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.quick:
        args.width, args.layers, args.frozen, args.steps, args.reps = 64, 3, 2, 3, 1
    frameworks = args.frameworks.split(",") + (["torch"] if args.torch else [])
    print(f"{args.layers} Dense({args.width}) layers, {args.frozen} frozen, batch "
          f"{args.batch}, {args.steps} steps, {args.reps} repetition(s)")
    results = {}
    for rep in range(args.reps):
        for framework in (frameworks if rep % 2 == 0 else frameworks[::-1]):
            result, error = _run(args, framework)
            if error:
                print(f"  {framework}: failed: {error}")
                continue
            results.setdefault(framework, []).append(result)
            print(f"  rep {rep} {framework:6}: peak +{result['peak_mb']:7.0f} MB, step "
                  f"{result['step_s'] * 1e3:7.1f} ms, trains {result['trained']:,} of "
                  f"{result['params']:,}")
    _report(args, results)
    return 1 if not results else 0


if __name__ == "__main__":
    sys.exit(main())
