"""Convolution sweep: lamina's chosen lowering against XLA's own, and PyTorch when given.

For each case (Conv1D/2D/3D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D; channels,
spatial size, kernel, strides, dilation, padding, batch) and each pass ("fwd": the output;
"fwd+bwd": the gradients with respect to input and kernel for a fixed cotangent), two jitted
programs run in this process on the same random inputs:

- `lamina`: what lamina's layers call (`core.lowering.convolution.conv`, with `groups` for
  depthwise, then a 1x1 `conv` for separable; `core.lowering.conv_transpose` for transposes),
  with the lowering chosen as configured (`LAMINA_CONV_LOWERING`, default "auto": autotuned;
  the tuning happens while compiling and is reported as `tune_s`);
- `xla`: `jax.lax.conv_general_dilated` / `jax.lax.conv_transpose` alone.

Repetitions alternate (lamina first on even ones), so drift hits both alike; the medians
and `speed = xla time / lamina time` (>= 0.95 is the target: never more than 5% slower) are
printed and written as JSON lines. With `--torch PYTHON` (an interpreter with torch), this
same file runs in that interpreter as a worker (`--torch-worker`) on the same cases,
channels-first, `torch.nn.functional` ops, and `torch speed = torch time / lamina time`.

    python benchmarks/conv_sweep.py --quick [--torch /tmp/venv-torch/bin/python]
    python benchmarks/conv_sweep.py --full --max-gflop 2 [--reps 5] [--out FILE|none]
    python benchmarks/conv_sweep.py --full --sample 60 --seed 0   # a random sample of the grid
"""
import argparse
import datetime
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name: op, batch, spatial (per axis), in, out, kernel, strides, dilation, padding
QUICK = [
    ("autoencoder", "conv2d", 128, 28, 32, 32, 3, 1, 1, "same"),
    ("w4-conv1", "conv2d", 128, 28, 1, 32, 3, 1, 1, "valid"),
    ("w4-conv2", "conv2d", 128, 13, 32, 64, 3, 1, 1, "valid"),
    ("stride2", "conv2d", 32, 56, 64, 64, 3, 2, 1, "same"),
    ("k7-stem", "conv2d", 8, 112, 3, 32, 7, 2, 1, "same"),
    ("dilated", "conv2d", 16, 28, 32, 32, 3, 1, 2, "same"),
    ("k5-valid", "conv2d", 32, 28, 16, 32, 5, 1, 1, "valid"),
    ("pointwise", "conv2d", 32, 28, 64, 128, 1, 1, 1, "valid"),
    ("batch1", "conv2d", 1, 56, 64, 64, 3, 1, 1, "same"),
    ("conv1d", "conv1d", 32, 224, 64, 64, 5, 1, 1, "same"),
    ("conv3d", "conv3d", 4, 14, 16, 32, 3, 1, 1, "same"),
    ("dcgan-t1", "conv2d_transpose", 64, 7, 128, 64, 5, 2, 1, "same"),
    ("dcgan-t2", "conv2d_transpose", 64, 14, 64, 1, 5, 2, 1, "same"),
    ("depthwise", "depthwise2d", 32, 28, 64, 64, 3, 1, 1, "same"),
    ("separable", "separable2d", 32, 28, 64, 128, 3, 1, 1, "same"),
]
RANK = {"conv1d": 1, "conv2d": 2, "conv3d": 3, "conv2d_transpose": 2, "depthwise2d": 2,
        "separable2d": 2}


def full_grid(max_gflop):
    """Every combination of the issue's ranges, kept below `max_gflop` forward GFLOP."""
    cases = []
    for op, b, n, c, k, s, d, pad in itertools.product(
            RANK, (1, 32, 256), (7, 28, 56, 224), (1, 16, 64, 256), (1, 3, 5, 7), (1, 2),
            (1, 2), ("same", "valid")):
        if (d > 1 and s > 1) or (k == 1 and (d > 1 or pad == "valid")) or (RANK[op] == 3
                                                                            and n > 28):
            continue
        if pad == "valid" and (n - (k - 1) * d - 1) < 0:
            continue
        case = (f"{op}-b{b}-n{n}-c{c}-k{k}-s{s}-d{d}-{pad}", op, b, n, c, c, k, s, d, pad)
        if flops(case) <= max_gflop * 1e9:
            cases.append(case)
    return cases


def sample(cases, count, seed):
    """`count` of `cases` drawn without replacement (all of them if fewer), in grid order."""
    if count >= len(cases):
        return list(cases)
    picked = random.Random(seed).sample(range(len(cases)), count)
    return [cases[i] for i in sorted(picked)]


def flops(case):
    _, op, b, n, cin, cout, k, s, d, pad = case
    rank = RANK[op]
    out = n * s if op == "conv2d_transpose" else math.ceil(n / s)
    per = k ** rank * (1 if op == "depthwise2d" else cin)
    extra = b * out ** rank * cin * cout * 2 if op == "separable2d" else 0
    return 2 * b * out ** rank * per * (cin if op == "depthwise2d" else cout) + extra


def shapes(case):
    """(input shape channels-last, kernel shape (Keras layout), second kernel or None)."""
    _, op, b, n, cin, cout, k, s, d, pad = case
    rank = RANK[op]
    x = (b, *(n,) * rank, cin)
    window = (k,) * rank
    if op == "conv2d_transpose":
        return x, (*window, cout, cin), None
    if op == "depthwise2d":
        return x, (*window, 1, cin), None
    if op == "separable2d":
        return x, (*window, 1, cin), (1, 1, cin, cout)
    return x, (*window, cin, cout), None


def _transpose_pads(k, s, d):
    """Keras's "same" transposed-convolution padding (output n * s)."""
    span = (k - 1) * d + 1
    total = s + span - 2
    low = min(total // 2 + total % 2, span - 1)
    return low, total - low


def jax_programs(case):
    """{"lamina": f, "xla": f}: functions (x, k, k2) -> output."""
    from lamina.core.lowering import conv_paths, conv_transpose, convolution
    _, op, b, n, cin, cout, k, s, d, pad = case
    rank = RANK[op]
    st, dil = (s,) * rank, (d,) * rank
    groups = cin if op in ("depthwise2d", "separable2d") else 1
    if op == "conv2d_transpose":
        pads = (_transpose_pads(k, s, d),) * rank
        return {"lamina": lambda x, w, w2: conv_transpose.conv_transpose(x, w, st, pads, dil),
                "xla": lambda x, w, w2: conv_transpose.transpose_xla(x, w, st, pads, dil)}
    ones = (1,) * rank

    def lamina(x, w, w2):
        y = convolution.conv(x, w, st, pad, dil, groups=groups)
        return y if w2 is None else convolution.conv(y, w2, ones, "valid", ones)

    def xla(x, w, w2):
        y = conv_paths.conv_xla(x, w, st, pad, dil, groups)
        return y if w2 is None else conv_paths.conv_xla(y, w2, ones, "valid", ones)

    return {"lamina": lamina, "xla": xla}


def _timed_pair(fns, args, reps):
    import jax
    times = {name: [] for name in fns}
    for rep in range(reps):
        for name in (list(fns) if rep % 2 == 0 else list(fns)[::-1]):
            start = time.perf_counter()
            jax.block_until_ready(fns[name](*args))
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def run_jax_case(case, reps):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from lamina.core.lowering import autotune
    x_shape, k_shape, k2_shape = shapes(case)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal(x_shape), jnp.float32)
    w = jnp.asarray(rng.standard_normal(k_shape) * 0.1, jnp.float32)
    w2 = None if k2_shape is None else jnp.asarray(rng.standard_normal(k2_shape) * 0.1,
                                                   jnp.float32)
    progs = jax_programs(case)
    y = jax.eval_shape(progs["xla"], x, w, w2)
    ct = jnp.asarray(rng.standard_normal(y.shape), jnp.float32)
    rows = []
    for mode in ("fwd", "fwd+bwd"):
        if mode == "fwd":
            fns = {n: jax.jit(f) for n, f in progs.items()}
            args = (x, w, w2)
        else:
            fns = {n: jax.jit(lambda x, w, w2, ct, f=f: jax.vjp(f, x, w, w2)[1](ct))
                   for n, f in progs.items()}
            args = (x, w, w2, ct)
        tuned = autotune.tuning_stats()["seconds"]
        compile_s = {}
        for name, fn in fns.items():
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            compile_s[name] = time.perf_counter() - start
        tune_s = autotune.tuning_stats()["seconds"] - tuned
        med = _timed_pair(fns, args, reps)
        outs = [fns[n](*args) for n in fns]
        close = all(np.allclose(a, b, rtol=2e-3, atol=2e-3) for a, b in zip(
            jax.tree_util.tree_leaves(outs[0]), jax.tree_util.tree_leaves(outs[1]),
            strict=True))
        rows.append({"case": case[0], "op": case[1], "pass": mode, "gflop": flops(case) / 1e9,
                     "lamina_s": med["lamina"], "xla_s": med["xla"],
                     "speed_vs_xla": med["xla"] / med["lamina"], "tune_s": tune_s,
                     "first_call_s": compile_s, "same_values": bool(close)})
    return rows


def torch_worker(cases, reps):
    """Runs in the interpreter that has torch: one JSON line per (case, pass)."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(os.cpu_count() or 1)
    fn_of = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
    for case in cases:
        _, op, b, n, cin, cout, k, s, d, pad = case
        rank = RANK[op]
        x_shape, k_shape, k2_shape = shapes(case)
        g = torch.Generator().manual_seed(0)
        x = torch.randn((b, cin, *(n,) * rank), generator=g)
        if op == "conv2d_transpose":
            w = torch.randn((cin, cout, k, k), generator=g) * 0.1
            span = (k - 1) * d + 1
            crop = max(0, -(-(span - s) // 2))  # output n * s, as Keras's "same"

            def run(x, w, w2, crop=crop, s=s, d=d, span=span):
                return F.conv_transpose2d(x, w, stride=s, padding=crop, dilation=d,
                                          output_padding=s - span + 2 * crop)
            w2 = None
        else:
            groups = cin if op in ("depthwise2d", "separable2d") else 1
            w = torch.randn((k_shape[-1] if groups == 1 else cin, cin // groups,
                             *(k,) * rank), generator=g) * 0.1
            w2 = None if k2_shape is None else torch.randn((cout, cin, 1, 1), generator=g)
            padding = pad if s == 1 else _torch_pads(n, k, s, d, pad, rank)

            def run(x, w, w2, groups=groups, padding=padding, s=s, d=d, rank=rank):
                xin = x
                if isinstance(padding, tuple):
                    xin = F.pad(x, padding)
                y = fn_of[rank](xin, w, stride=s, dilation=d, groups=groups,
                                padding=0 if isinstance(padding, tuple) else padding)
                return y if w2 is None else F.conv2d(y, w2)
        for mode in ("fwd", "fwd+bwd"):
            ts = []
            for rep in range(reps + 1):
                xs, ws = x.clone().requires_grad_(mode != "fwd"), w.clone().requires_grad_(
                    mode != "fwd")
                start = time.perf_counter()
                if mode == "fwd":
                    with torch.no_grad():
                        run(xs, ws, w2)
                else:
                    y = run(xs, ws, w2)
                    y.backward(torch.ones_like(y))
                if rep:
                    ts.append(time.perf_counter() - start)
            print(json.dumps({"case": case[0], "pass": mode, "torch_s": statistics.median(ts)}),
                  flush=True)


def _torch_pads(n, k, s, d, pad, rank):
    """F.pad tuple giving XLA's "same"/"valid" output for strided torch convolutions."""
    if pad == "valid":
        return (0, 0) * rank
    span = (k - 1) * d + 1
    total = max((math.ceil(n / s) - 1) * s + span - n, 0)
    return (total // 2, total - total // 2) * rank


def _torch_rows(python, cases, reps):
    proc = subprocess.run([python, __file__, "--torch-worker", "--reps", str(reps),
                           "--cases", json.dumps(cases)], capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        print(f"torch worker failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        return {}
    return {(r["case"], r["pass"]): r["torch_s"] for r in map(json.loads,
                                                               proc.stdout.splitlines())}


def _load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the quick subset (default)")
    p.add_argument("--full", action="store_true", help="the full grid, below --max-gflop")
    p.add_argument("--max-gflop", type=float, default=2.0)
    p.add_argument("--only", default=None, help="comma-separated case names")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="N cases drawn at random (seed --seed) from the chosen set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--torch", default=None, metavar="PYTHON")
    p.add_argument("--out", default=None, help="JSON lines file (default under results/)")
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cases", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.torch_worker:
        return torch_worker([tuple(c) for c in json.loads(args.cases)], args.reps)
    cases = full_grid(args.max_gflop) if args.full else QUICK
    if args.only:
        cases = [c for c in cases if c[0] in args.only.split(",")]
    if args.sample is not None:
        cases = sample(cases, args.sample, args.seed)
    import jax
    sys.path.insert(0, str(HERE.parent / "src"))
    torch_times = _torch_rows(args.torch, cases, args.reps) if args.torch else {}
    started = time.time()
    rows = []
    print(f"jax {jax.__version__} {jax.devices()[0]}  LAMINA_CONV_LOWERING="
          f"{os.environ.get('LAMINA_CONV_LOWERING', 'auto')}  reps {args.reps}  "
          f"load {_load():.1f}  cpus {os.cpu_count()}", flush=True)
    print(f"{'case':<14}{'pass':<9}{'GFLOP':>7}{'lamina ms':>11}{'xla ms':>9}{'vs xla':>8}"
          f"{'torch ms':>10}{'vs torch':>9}{'tune s':>8}", flush=True)
    for case in cases:
        for row in run_jax_case(case, args.reps):
            t = torch_times.get((row["case"], row["pass"]))
            row["torch_s"] = t
            row["speed_vs_torch"] = None if t is None else t / row["lamina_s"]
            row["loadavg_1min"] = _load()
            rows.append(row)
            torch_ms = "" if t is None else f"{t * 1e3:.1f}"
            torch_speed = "" if t is None else f"{row['speed_vs_torch']:.2f}"
            print(f"{row['case'][:13]:<14}{row['pass']:<9}{row['gflop']:>7.2f}"
                  f"{row['lamina_s'] * 1e3:>11.1f}{row['xla_s'] * 1e3:>9.1f}"
                  f"{row['speed_vs_xla']:>8.2f}{torch_ms:>10}{torch_speed:>9}"
                  f"{row['tune_s']:>8.1f}" + ("" if row["same_values"] else "  VALUES DIFFER"),
                  flush=True)
    _summary(rows, args, time.time() - started)


def _summary(rows, args, seconds):
    below = [r for r in rows if r["speed_vs_xla"] < 0.95]
    vs_torch = [r["speed_vs_torch"] for r in rows if r["speed_vs_torch"] is not None]
    print(f"\n{len(rows)} rows in {seconds:.0f} s; speed vs xla median "
          f"{statistics.median(r['speed_vs_xla'] for r in rows):.2f}, min "
          f"{min(r['speed_vs_xla'] for r in rows):.2f}; below 0.95: "
          f"{[(r['case'], r['pass']) for r in below]}")
    if vs_torch:
        print(f"at least torch's speed: {sum(v >= 1 for v in vs_torch)} of {len(vs_torch)}")
    out = args.out or str(HERE / "results" / (
        "conv_sweep-" + datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        + ".jsonl"))
    if out != "none":
        with open(out, "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
            f.write(json.dumps({"kind": "summary", "argv": sys.argv, "seconds": seconds,
                                "rows": len(rows), "below_0.95": len(below)}) + "\n")
        print(f"written to {out}")


if __name__ == "__main__":
    main()
