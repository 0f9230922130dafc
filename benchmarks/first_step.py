"""Time to first step: what compiling costs lamina's W1-W4 against the hand-written JAX + optax
loops and Keras 3, from a fresh process with a cold compilation cache.

Every (workload, implementation) runs in its own process, with JAX's persistent compilation
cache off, the runs interleaved over repetitions in alternating order. Each process imports
its framework, starts JAX's CPU client, then runs the workload of `run.py` at tiny sizes
(256 samples, 2 epochs; GAN: 2 warm-up and 3 timed iterations). JAX reports every
compilation through `jax.monitoring`; recorded per run, summed over every program the run
compiled (the train steps and the small eager programs of initialisation):

- trace: Python tracing of the functions into jaxprs;
- lower: jaxpr to StableHLO;
- xla: XLA's compilation (the backend);
- total: their sum, the time to first step that compiling adds; and `step`: the part of
  the train steps (the programs named in `STEP_NAMES`, their names given).

`--cache DIR` runs lamina twice more in fresh processes with
`lm.config.enable_compilation_cache(DIR, min_compile_time_secs=0)`: the first run fills
`DIR`, the second reads it (its `xla` time is what remains of compiling).

The train step's compilations are counted too (`xN` after its name): a step that fit
compiled more than once would show there.

`--diagnose` compares, in one process, lamina's W1 and W2 train steps with the hand-written
ones. First the load-insensitive sizes of each program: jaxpr equations, StableHLO
operations, and the instructions of XLA's optimised HLO (`compiled.as_text()`; the opcodes
that differ, fusions among them). Then their XLA compile times (`Lowered.compile()` of a
fresh function, alternating, `--reps` times each, with the load average).

    python benchmarks/first_step.py [--quick] [--reps 3] [--workloads w1,w2,w3,w4]
                                    [--impls lamina,jax,keras] [--cache DIR] [--diagnose]
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time

import common as C

TINY = C.Sizes(mlp_samples=256, mlp_epochs=2, cnn_samples=256, cnn_epochs=2, gan_iters=3,
               gan_warmup=2)
# the jitted train steps' function names: lamina's `CompiledStep`, the JAX loops', Keras 3's
STEP_NAMES = {"call", "step", "d_step", "g_step", "both_steps", "train_step"}
PHASES = {"jaxpr_trace_duration": "trace", "jaxpr_to_mlir_module_duration": "lower",
          "backend_compile_duration": "xla"}


class Compilations:
    """The durations JAX reports for every compilation, by phase and by program."""

    def __init__(self):
        import jax.monitoring
        self.by = collections.defaultdict(float)
        self.cache_hits = 0
        self.compiles = collections.Counter()  # XLA compilations, by program
        jax.monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, duration, **kwargs):
        name = event.rsplit("/", 1)[-1]
        if name == "cache_retrieval_time_sec":
            self.cache_hits += 1
        if name in PHASES:
            program = str(kwargs.get("fun_name", "?")).removeprefix("jit(").rstrip(")")
            self.by[(PHASES[name], program)] += duration
            self.compiles[program] += PHASES[name] == "xla"

    def summary(self):
        phases = {p: sum(d for (ph, _), d in self.by.items() if ph == p)
                  for p in PHASES.values()}
        programs = collections.defaultdict(float)
        for (_, program), duration in self.by.items():
            programs[program] += duration
        steps = sorted(p for p in programs if p in STEP_NAMES)
        return {**phases, "total": sum(phases.values()),
                "step": sum(programs[p] for p in steps), "step_name": "+".join(steps),
                "step_compiles": sum(self.compiles[p] for p in steps),
                "programs": len(programs), "cache_hits": self.cache_hits}


def worker(impl, workload, cache):
    import jax
    if impl == "keras":
        import reference_keras as module
        run = module.WORKLOADS[workload]
    elif impl == "jax":
        import reference_jax as module
        run = module.WORKLOADS[workload]
    else:
        import workloads as module
        run = module.LAMINA[workload]
        if cache:
            import lamina as lm
            lm.config.enable_compilation_cache(cache, min_compile_time_secs=0)
    jax.block_until_ready(jax.numpy.zeros(1) + 1)
    compilations = Compilations()
    start = time.perf_counter()
    result = run(TINY)
    wall = time.perf_counter() - start
    # two epochs of two batches need not lower the loss: every other check must hold
    failed = [name for name, ok in result["sanity"].items()
              if not ok and name != "loss decreased"]
    if failed:
        raise SystemExit(f"{impl} {workload}: sanity failed: {failed}")
    print(json.dumps({**compilations.summary(), "wall_s": wall}))


def _run(impl, workload, cache=None):
    cmd = [sys.executable, __file__, "--worker", impl, workload] + (
        ["--cache", cache] if cache else [])
    here = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))}
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(here, "..", "src"),
                                         env.get("PYTHONPATH", "")])
    env.setdefault("KERAS_BACKEND", "jax")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def _line(label, r):
    return (f"{label:16} total {r['total']:6.2f} s (trace {r['trace']:5.2f}, lower "
            f"{r['lower']:5.2f}, xla {r['xla']:5.2f}), step {r['step']:5.2f} s "
            f"[{r['step_name']}] x{r['step_compiles']:.0f}, {r['programs']:3.0f} programs, "
            f"wall {r['wall_s']:6.2f} s")


def compare(args):
    runs = [(w, i) for w in args.workloads.split(",") for i in args.impls.split(",")]
    results = collections.defaultdict(list)
    for rep in range(args.reps):
        for workload, impl in (runs if rep % 2 == 0 else runs[::-1]):
            result, error = _run(impl, workload)
            if error:
                print(f"  {workload} {impl}: failed: {error}")
                continue
            results[(workload, impl)].append(result)
            print("  " + _line(f"rep {rep} {workload} {impl}", result), flush=True)
    med = {k: {f: (statistics.median(r[f] for r in v) if f != "step_name" else v[0][f])
               for f in v[0]} for k, v in results.items()}
    for key, m in med.items():
        print("median " + _line(" ".join(key), m))
    for workload in args.workloads.split(","):
        ours = med.get((workload, "lamina"))
        for impl, target in (("jax", "<= 1.10"), ("keras", "< 1.0")):
            if ours and (workload, impl) in med:
                theirs = med[(workload, impl)]
                print(f"{workload}: lamina / {impl} compile total "
                      f"{ours['total'] / theirs['total']:.2f}x, train step "
                      f"{ours['step'] / theirs['step']:.2f}x (target {target})")


def cached(args):
    for run in ("fills the cache", "reads the cache"):
        for workload in args.workloads.split(","):
            result, error = _run("lamina", workload, args.cache)
            print(f"  {workload} lamina, {run}: " + (error or _line("", result)), flush=True)


def _lamina_mlp_step(x, y, frozen):
    """lamina's W1 (W2 with `frozen`) train step after a two-batch fit: (jitted function, its
    arguments, how many times fit compiled it)."""
    import workloads

    import lamina as lm
    model = workloads.mlp_model()
    if frozen:
        model.layers[0].trainable = model.layers[1].trainable = False
    model.compile(optimizer=lm.optimizers.Adam(C.LR), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    trainer = model._trainer
    (step,) = trainer.compiled_steps("train")
    state = trainer._current_plan().state(trainer.opt_state, trainer.metric_state)
    return (step.jitted, (state._replace(other=None), state.other, x[:128], [y[:128]], None),
            step.jitted._cache_size())


def _reference_mlp_step(x, y, frozen):
    """The hand-written W1 (W2) step of `reference_jax`, as `_lamina_mlp_step` returns it
    (no fit ran it: no compile count)."""
    import jax
    import optax
    import reference_jax as R
    adam = optax.adam(C.LR)
    hidden = C.Sizes().mlp_hidden
    layers = R.init_dense_stack(jax.random.PRNGKey(0), [C.MLP_IN, hidden, hidden, C.MLP_OUT])
    if frozen:
        step = R.make_head_step(adam)
        state = ((layers[2], adam.init(layers[2])), layers[:2])
    else:
        step = R.make_step(R.mlp_loss, adam)
        state = (layers, adam.init(layers))
    return step, (state, x[:128], y[:128]), None


def _eqns(jaxpr):
    """Equations of a jaxpr and of every jaxpr nested in it (custom_jvp, pjit, ...)."""
    total = 0
    for eqn in jaxpr.eqns:
        total += 1
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", param)
            if hasattr(inner, "eqns"):
                total += _eqns(inner)
    return total


def program_sizes(jitted, call_args):
    """Load-insensitive sizes of one step program: jaxpr equations (top level, nested),
    StableHLO ops, and XLA's optimised HLO (instructions, by opcode; fusions)."""
    import re
    traced = jitted.trace(*call_args)
    lowered = traced.lower()
    hlo = lowered.compile().as_text()
    ops = collections.Counter(re.findall(r"= [^=]*? ([a-z][\w-]*)\(", hlo))
    return {"jaxpr": len(traced.jaxpr.eqns), "jaxpr_nested": _eqns(traced.jaxpr.jaxpr),
            "stablehlo": len(re.findall(r"stablehlo\.[a-z_]+", lowered.as_text())),
            "hlo": sum(ops.values()), "hlo_ops": ops}


def diagnose(args):
    """lamina's W1 and W2 train steps against the hand-written ones, in one process: program
    sizes (`program_sizes`, the HLO opcodes that differ) and XLA compile times
    (`Lowered.compile()` of a fresh function, alternating, `--reps` times each)."""
    import jax
    x, y = C.mlp_data(256)
    for workload in args.workloads.split(","):
        if workload not in ("w1", "w2"):
            continue
        frozen = workload == "w2"
        steps = {"lamina": _lamina_mlp_step(x, y, frozen), "jax": _reference_mlp_step(x, y, frozen)}
        sizes = {name: program_sizes(jitted, call_args)
                 for name, (jitted, call_args, _) in steps.items()}
        for name, size in sizes.items():
            print(f"{workload} {name:6}: jaxpr {size['jaxpr']} top-level / {size['jaxpr_nested']} "
                  f"nested equations, {size['stablehlo']} StableHLO ops, {size['hlo']} optimised "
                  f"HLO instructions ({size['hlo_ops']['fusion']} fusions)"
                  + ("" if steps[name][2] is None else f"; fit compiled it {steps[name][2]}x"))
        ours, theirs = sizes["lamina"]["hlo_ops"], sizes["jax"]["hlo_ops"]
        print("  HLO opcodes that differ: " + ", ".join(
            f"{op} {ours[op]}/{theirs[op]}" for op in sorted(set(ours) | set(theirs))
            if ours[op] != theirs[op]))
        times = collections.defaultdict(list)
        for rep in range(args.reps):
            for name in (("lamina", "jax") if rep % 2 == 0 else ("jax", "lamina")):
                jitted, call_args, _ = steps[name]
                # a new function each time: JAX caches compiled programs per traced function
                fresh = jax.jit(lambda *a, f=jitted.__wrapped__: f(*a),
                                donate_argnums=(0,)).lower(*call_args)
                start = time.perf_counter()
                fresh.compile()
                times[name].append(time.perf_counter() - start)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"  XLA compile, median of {args.reps} (load {os.getloadavg()[0]:.1f}): lamina "
              f"{med['lamina']:.3f} s, jax {med['jax']:.3f} s ({med['lamina'] / med['jax']:.2f}x)",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "WORKLOAD"))
    parser.add_argument("--quick", action="store_true", help="W1 only, one repetition")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workloads", default="w1,w2,w3,w4")
    parser.add_argument("--impls", default="lamina,jax,keras")
    parser.add_argument("--cache", default=None, metavar="DIR")
    parser.add_argument("--diagnose", action="store_true")
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker, args.cache)
    if args.quick:
        args.workloads, args.reps = "w1", 1
    if args.diagnose:
        return diagnose(args)
    if args.cache:
        return cached(args)
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
