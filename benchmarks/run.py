"""lamina vs the hand-written JAX + optax loops (and Keras 3, PyTorch when available), one run.

    python benchmarks/run.py --reps 3 --out results.jsonl
    python benchmarks/run.py --quick                 # smoke run, numbers meaningless
    python benchmarks/run.py --workloads w4 --torch /tmp/venv-torch/bin/python

For each repetition and workload the implementations run one after another, the order
reversed on every other repetition (lamina, jax, ... / ..., jax, lamina). lamina, the JAX
reference (`reference_jax.py`) and Keras (`reference_keras.py`) run in this process. W3 is
compared with the reference's "unfused" variant (three jitted calls per iteration, host sync on
both losses), the structure `train_on_batch` has. PyTorch runs `reference_torch.py` in its own
process, with the interpreter given by `--torch` (torch may live in another virtual
environment). Everything needed is in this folder. W1 also runs lamina with
`steps_per_execution` K for each K of `--w1-spe` (default 8,32; impls "lamina-spe8",
"lamina-spe32"), with issue 4's target for K >= 8. See benchmarks/README.md.
"""
import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# the benchmark's own modules, importable once HERE is on sys.path (run as a script)
import common as C  # noqa: E402
import workloads as W  # noqa: E402

# targets from the performance issues: lamina / reference implementation (throughput ratios)
TARGETS = {"w1": ("jax", 0.95), "w2": ("jax", 0.95), "w3": ("jax", 0.90), "w4": ("torch", 1.0)}
TARGET_W2_OVER_W1 = 1.8
# issue 4: with steps_per_execution >= 8, W1 beats the hand-written one-step-per-call loop
TARGET_W1_SPE = ("jax", 1.05, 8)  # (reference, ratio, smallest K it applies to)
JAX_VARIANT = {"w1": "default", "w2": "default", "w3": "unfused", "w4": "default"}
METRIC = {"w1": "samples_per_s", "w2": "samples_per_s", "w3": "iters_per_s",
          "w4": "samples_per_s"}
IMPL_ORDER = ["lamina", "jax", "jax-fused", "keras-jax", "torch"]
SPE_PREFIX = "lamina-spe"  # + K: W1 with steps_per_execution=K


def impl_order(spe):
    """Every implementation name, in table order, with the W1 steps_per_execution ones."""
    return IMPL_ORDER[:1] + [f"{SPE_PREFIX}{k}" for k in spe] + IMPL_ORDER[1:]


def target_for(workload, impl):
    """(reference, ratio) that `impl` is held to on `workload`, or None."""
    if impl == "lamina":
        return TARGETS[workload]
    ref, target, smallest = TARGET_W1_SPE
    spe = impl.startswith(SPE_PREFIX) and int(impl[len(SPE_PREFIX):])
    if workload == "w1" and spe and spe >= smallest:
        return ref, target
    return None


def fmt(values, pattern):
    return " / ".join("-" if v is None else pattern.format(v) for v in values)


def show(ratio):
    return "-" if ratio is None else f"{ratio:.3f}"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=None,
                   help="repetitions, the order alternating (default 3, 1 with --quick)")
    p.add_argument("--workloads", default="w1,w2,w3,w4",
                   help="comma-separated subset of w1,w2,w3,w4")
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    p.add_argument("--out", default=None,
                   help="append JSON lines (runs + summary) here (default without --quick: "
                   "benchmarks/results/run-<UTC time>.jsonl; --out none to write nothing)")
    p.add_argument("--size", action="append", default=[], metavar="FIELD=N",
                   help="override one size of common.Sizes, e.g. --size mlp_samples=20000 "
                   "(repeatable; applies to every implementation)")
    p.add_argument("--keras", choices=["auto", "yes", "no"], default="auto",
                   help="also run Keras 3 (JAX backend) if `import keras` works (auto)")
    p.add_argument("--torch", default="auto", metavar="PYTHON|auto|no",
                   help="interpreter that has torch, to run reference_torch.py (auto: "
                   "$LAMINA_TORCH_PYTHON, else this interpreter if it has torch)")
    p.add_argument("--impls", default=None,
                   help=f"comma-separated subset of {','.join(impl_order([8, 32]))} to run "
                   "(default: all available); ratios to an implementation left out are not "
                   "reported")
    p.add_argument("--w1-spe", default="8,32", metavar="K,K|none",
                   help="W1 also with compile(steps_per_execution=K) for each K, as impl "
                   "lamina-speK (default 8,32; 'none' to skip)")
    p.add_argument("--w3-fused", action="store_true",
                   help="also run the fused hand-written W3 (one jitted call per iteration)")
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.reps < 1:
        p.error(f"--reps: expected a positive integer, received {args.reps}")
    args.command = " ".join(["python benchmarks/run.py"]
                            + list(sys.argv[1:] if argv is None else argv))
    if args.out is None and not args.quick:
        args.out = str(HERE / "results" / time.strftime("run-%Y%m%d-%H%M%S.jsonl", time.gmtime()))
    elif args.out == "none":
        args.out = None
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    try:
        args.w1_spe = ([] if args.w1_spe.strip() == "none" else
                       [int(k) for k in args.w1_spe.split(",") if k.strip()])
    except ValueError:
        p.error(f"--w1-spe: expected comma-separated integers or 'none', received "
                f"{args.w1_spe!r}")
    if any(k < 1 for k in args.w1_spe):
        p.error(f"--w1-spe: expected positive integers, received {args.w1_spe}")
    bad = [w for w in args.workloads if w not in METRIC]
    if bad:
        p.error(f"--workloads: unknown {bad}; expected a subset of w1,w2,w3,w4")
    try:
        args.sizes = sizes_from(args.quick, args.size)
    except ValueError as exc:
        p.error(f"--size: {exc}")
    if args.impls is not None:
        args.impls = [i.strip() for i in args.impls.split(",") if i.strip()]
        known = impl_order(args.w1_spe)
        bad = [i for i in args.impls if i not in known]
        if bad:
            p.error(f"--impls: unknown {bad}; expected a subset of {','.join(known)}")
    return args


def sizes_from(quick, overrides):
    """common.Sizes (quick or full) with FIELD=N overrides; ValueError when one is invalid."""
    fields = set(C.Sizes().as_dict())
    changes = {}
    for item in overrides:
        name, _, value = item.partition("=")
        if name not in fields or not value.strip().isdigit():
            raise ValueError(f"expected FIELD=N with FIELD one of {sorted(fields)}, received "
                             f"{item!r}")
        changes[name] = int(value)
    return C.Sizes.quick(**changes) if quick else C.Sizes(**changes)


def find_torch(mode):
    """(python interpreter for reference_torch.py, None) or (None, why it is skipped)."""
    if mode == "no":
        return None, "disabled (--torch no)"
    if mode != "auto":
        return mode, None
    if os.environ.get("LAMINA_TORCH_PYTHON"):
        return os.environ["LAMINA_TORCH_PYTHON"], None
    if importlib.util.find_spec("torch") is not None:
        return sys.executable, None
    return None, ("skipped: torch is not installed here; pass --torch PYTHON (an interpreter "
                  "with torch) or set LAMINA_TORCH_PYTHON")


def load_keras(mode):
    """(the reference_keras module, None), or (None, why Keras is skipped)."""
    if mode == "no":
        return None, "disabled (--keras no)"
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except Exception as exc:  # not installed, or a broken backend
        if mode == "yes":
            raise
        return None, f"skipped: import keras failed ({type(exc).__name__}: {exc})"
    if keras.backend.backend() != "jax":
        return None, f"skipped: KERAS_BACKEND={keras.backend.backend()} (want jax)"
    import reference_keras

    return reference_keras, None


def run_torch_process(python, workload, sizes, timeout=1800):
    """Run reference_torch.py with interpreter `python` in its own process; its result dict.

    Raises RuntimeError with the script's stderr if it fails."""
    cmd = [python, str(HERE / "reference_torch.py"), "--workload", workload,
           "--sizes", json.dumps(sizes.as_dict())]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        raise RuntimeError(f"benchmarks: `{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    result = json.loads(lines[-1])
    result["torch_versions"] = result.pop("versions", None)
    return result


class Runner:
    def __init__(self, args):
        self.args = args
        self.sizes = args.sizes
        self.keras, self.keras_note = load_keras(args.keras)
        self.torch_python, self.torch_note = find_torch(args.torch)
        import jax
        import optax
        import reference_jax

        import lamina

        self.reference_jax = reference_jax

        self.versions = {"lamina": lamina.__version__, "jax": jax.__version__,
                         "optax": optax.__version__, "python": platform.python_version(),
                         "devices": [str(d) for d in jax.devices()], "cpus": os.cpu_count()}
        if self.keras is not None:
            self.versions["keras"] = self.keras.VERSIONS["keras"]
        self.records = []

    def impls(self, workload):
        """(name, callable) pairs for one workload, in the rep-1 order."""
        s, args, ref = self.sizes, self.args, self.reference_jax
        out = [("lamina", lambda: W.LAMINA[workload](s))]
        if workload == "w1":
            out += [(f"{SPE_PREFIX}{k}", lambda k=k: W.lamina_mlp(s, steps_per_execution=k))
                    for k in args.w1_spe]
        # W3's reference is the unfused loop (JAX_VARIANT): the structure of train_on_batch
        out.append(("jax", lambda: ref.WORKLOADS[workload](s)))
        if workload == "w3" and args.w3_fused:
            out.append(("jax-fused", lambda: ref.w3(s, fused=True)))
        if self.keras is not None:
            out.append(("keras-jax", lambda: self.keras.WORKLOADS[workload](s)))
        if self.torch_python is not None:
            out.append(("torch", lambda: run_torch_process(self.torch_python, workload, s)))
        if args.impls:
            out = [(name, fn) for name, fn in out if name in args.impls]
        return out

    def run_one(self, workload, impl, fn, rep, position):
        steal0 = C.cpu_ticks()
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        try:
            result, error = fn(), None
        except Exception:  # noqa: BLE001 - one failing implementation must not hide the rest
            result, error = {}, traceback.format_exc()
            print(error, file=sys.stderr)
        wall = time.perf_counter() - t
        steal, total = (a - b for a, b in zip(C.cpu_ticks(), steal0, strict=True))
        rec = dict(kind="run", workload=workload, impl=impl,
                   variant=JAX_VARIANT[workload] if impl == "jax" else "default",
                   rep=rep, position=position, quick=self.args.quick, wall_s=wall,
                   steal_frac=(steal / total) if total else None,
                   loadavg_1min=[load0, os.getloadavg()[0]], error=error, **result)
        rec["value"] = rec.get(METRIC[workload])
        self.emit(rec)
        sanity = rec.get("sanity", {})
        flag = "ok" if sanity and all(sanity.values()) and not error else "FAILED"
        shown = "-" if rec["value"] is None else f"{rec['value']:,.1f}"
        print(f"  rep {rep} {workload} {impl:<10} {shown:>12} {METRIC[workload]}  "
              f"sanity {flag}  ({wall:.1f}s)", flush=True)
        return rec

    def emit(self, rec):
        self.records.append(rec)
        if self.args.out:
            Path(self.args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(self.args.out, "a") as f:
                f.write(json.dumps(rec, default=float) + "\n")

    def run(self):
        print(f"sizes: {self.sizes.as_dict()}  versions: {self.versions}")
        if self.keras_note:
            print(f"keras: {self.keras_note}")
        if self.torch_note:
            print(f"torch: {self.torch_note}")
        for rep in range(1, self.args.reps + 1):
            for workload in self.args.workloads:
                order = self.impls(workload)
                if rep % 2 == 0:
                    order = order[::-1]
                for position, (impl, fn) in enumerate(order):
                    self.run_one(workload, impl, fn, rep, position)
        return self.summarise()

    # -- summary ---------------------------------------------------------------------------
    def value(self, workload, impl, rep):
        for r in self.records:
            if (r["kind"], r["workload"], r["impl"], r["rep"]) == ("run", workload, impl, rep):
                return r["value"]
        return None

    def sanity_ok(self, workload, impl):
        runs = [r for r in self.records if r["kind"] == "run" and r["workload"] == workload
                and r["impl"] == impl]
        return bool(runs) and all(not r["error"] and r.get("sanity") and all(r["sanity"].values())
                                  for r in runs)

    def ratios(self, workload, values, reference):
        """Per-repetition ratios of `values` to `reference`'s throughput, and their median."""
        refs = [self.value(workload, reference, r) for r in range(1, self.args.reps + 1)]
        ratios = [v / j if v and j else None for v, j in zip(values, refs, strict=True)]
        good = [x for x in ratios if x is not None]
        return ratios, (statistics.median(good) if good else None)

    def summarise(self):
        reps = range(1, self.args.reps + 1)
        lines = []
        summary = {"kind": "summary", "quick": self.args.quick, "reps": self.args.reps,
                   "sizes": self.args.sizes.as_dict(), "command": self.args.command,
                   "versions": self.versions, "workloads": {}}
        head = ("| workload | impl | median | per rep | ratio vs jax per rep | median vs jax | "
                "ratio vs torch per rep | median vs torch | target | sanity |")
        lines += [head, "|" + "---|" * 10]
        impl_names = sorted({r["impl"] for r in self.records if r["kind"] == "run"},
                            key=impl_order(self.args.w1_spe).index)
        for workload in self.args.workloads:
            entry = summary["workloads"][workload] = {"metric": METRIC[workload]}
            for impl in impl_names:
                vals = [self.value(workload, impl, r) for r in reps]
                if all(v is None for v in vals):
                    continue
                good_vals = [v for v in vals if v is not None]
                ratios, med = self.ratios(workload, vals, "jax")
                ratios_t, med_t = self.ratios(workload, vals, "torch")
                entry[impl] = {
                    "values": vals,
                    "median": statistics.median(good_vals) if good_vals else None,
                    "ratios": ratios, "median_ratio": med,
                    "ratios_vs_torch": ratios_t, "median_ratio_vs_torch": med_t,
                    "sanity_ok": self.sanity_ok(workload, impl)}
                verdict = "-"
                held_to = target_for(workload, impl)
                if held_to is not None:
                    ref, target = held_to
                    ref_med = {"jax": med, "torch": med_t}[ref]
                    entry[impl].update(target=target, target_reference=ref)
                    verdict = f"vs {ref} >= {target:.2f}: no {ref} run"
                    if ref_med is not None:
                        entry[impl]["meets_target"] = ref_med >= target
                        verdict = (f"vs {ref} >= {target:.2f}: "
                                   f"{'yes' if ref_med >= target else 'NO'}")
                lines.append(
                    f"| {workload} | {impl} | {entry[impl]['median'] or 0:,.1f} "
                    f"{'it/s' if workload == 'w3' else 'samples/s'} | {fmt(vals, '{:,.0f}')} | "
                    f"{fmt(ratios, '{:.3f}')} | {show(med)} | {fmt(ratios_t, '{:.3f}')} | "
                    f"{show(med_t)} | {verdict} | "
                    f"{'ok' if entry[impl]['sanity_ok'] else 'FAILED'} |")
        if "w1" in self.args.workloads and "w2" in self.args.workloads:
            lines.append("")
            speed = summary["w2_over_w1"] = {}
            for impl in impl_names:
                per = [(self.value("w2", impl, r) or 0) / w1 if (w1 := self.value("w1", impl, r))
                       else None for r in reps]
                good = [x for x in per if x]
                if not good:
                    continue
                med = statistics.median(good)
                speed[impl] = {"per_rep": per, "median": med}
                verdict = ""
                if impl == "lamina":
                    speed[impl].update(target=TARGET_W2_OVER_W1,
                                       meets_target=med >= TARGET_W2_OVER_W1)
                    verdict = (f"  (target >= {TARGET_W2_OVER_W1}: "
                               f"{'yes' if med >= TARGET_W2_OVER_W1 else 'NO'})")
                lines.append(f"W2/W1 speed-up {impl}: per rep "
                             f"{' / '.join('-' if x is None else f'{x:.2f}' for x in per)}, "
                             f"median {med:.2f}{verdict}")
        steal = [r["steal_frac"] for r in self.records if r["kind"] == "run" and r["steal_frac"]]
        if steal:
            lines.append(f"CPU steal per run: max {max(steal):.1%} (noisy machine if > 3%)")
        loads = [x for r in self.records if r["kind"] == "run" for x in r["loadavg_1min"]]
        if loads:
            busy = max(loads) > (os.cpu_count() or 1)
            lines.append(f"1-min load average during runs: {min(loads):.1f} - {max(loads):.1f} "
                         f"on {os.cpu_count()} CPUs"
                         + (" (above the CPU count: other processes compete, per-rep ratios "
                            "are noise-dominated)" if busy else ""))
        summary["table"] = lines
        self.emit(summary)
        print("\n" + "\n".join(lines))
        return summary


def main(argv=None):
    args = parse_args(argv)
    summary = Runner(args).run()
    if args.out:
        print(f"\nresults appended to {args.out}")
    failed = [f"{w}/{i}" for w, e in summary["workloads"].items() for i, v in e.items()
              if isinstance(v, dict) and not v["sanity_ok"]]
    if failed:
        print(f"SANITY FAILED: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
