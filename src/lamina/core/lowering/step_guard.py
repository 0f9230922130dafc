"""The step guard: a whole compiled step keeps its autotuned convolution lowerings only where
it runs faster than the same step in the "heuristic" mode, with XLA's lowering everywhere,
and with XLA's lowering on XLA's own convolution kernels.

The autotune times each convolution alone, on random inputs at a cut batch. Inside a whole
step the lowerings interact (what XLA fuses around them, the layouts it picks, the memory
they keep for the backward pass), so choices that each win alone can lose together, and
two candidates close in isolation can be far apart in the step. Measured on a quiet
machine: the tutorial autoencoder's step with the autotune's choices ran at 0.65x the
all-XLA step's speed (`benchmarks/autoencoder.py --per-layer`), and W4's step at about 0.7x
of the same step with "patches" where the autotune had picked "hybrid" by a hair. The guard
decides at the level the user feels. When a step traced in "auto" mode has convolutions
(`autotune.recording`), the same step is traced again under `convolution.pinned("xla")`
and compiled twice: with XLA:CPU's default options and with `EIGEN_CONVOLUTIONS`, which
hands the convolutions to XLA's Eigen kernels instead of YNNPACK's (these ran W4's step
1.8x faster on the project machine). Where the tuned step uses lowerings other than
XLA's, the step traced under `pinned("heuristic")` is a candidate too. The distinct
programs are run on the step's own arguments (the donated ones copied, so the live state
is untouched), alternating, and the fastest is kept, XLA's (default options) unless another
is faster by more than `autotune.MARGIN`. The verdict is cached in memory and on disk like
the per-shape decisions, keyed by the step's lowerings (operation, shapes and lowering of
every convolution it uses), the candidates and the machine, so a step is timed once per
machine. All the programs compute the same function, to float rounding.
"""
import functools
import hashlib
import time

import jax

from lamina.core.lowering import autotune, convolution

# Seconds of timed running per verdict after one warm-up call of each program; at most
# `MAX_REPS` calls of each are timed, at least one.
TUNE_SECONDS = 1.0
MAX_REPS = 5
CHOICES = ("tuned", "heuristic", "xla", "xla_eigen")
# XLA:CPU's default library fusions without YNNPACK's convolutions (its dots, reductions and
# pooling stay): every convolution runs on XLA's own Eigen kernels. On a 2-core EPYC, W4's
# train step with XLA's lowering took 36 ms with YNNPACK's convolutions and 20 ms without
# (its second convolution's forward pass: 8.0 against 3.1 ms); W1's step, which has none,
# is the same program either way. The guard times it as one more candidate.
EIGEN_CONVOLUTIONS = {"xla_cpu_experimental_ynn_fusion_type":
                      "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"}
# A step whose tuned program took longer than this to compile is not guarded: compiling it
# twice more would cost more than the guard could save in most runs.
MAX_COMPILE_SECONDS = 30.0


def applies(jit_options):
    """Whether a step jitted with `jit_options` is guarded: on CPU, in the "auto" mode, on
    one device (no shardings)."""
    return (not jit_options and jax.default_backend() == "cpu"
            and convolution.mode() == "auto")


def _copied(tree):
    return jax.tree_util.tree_map(lambda a: a.copy() if isinstance(a, jax.Array) else a, tree)


def measure(programs, args, donated):
    """Fastest seconds per call of each compiled program (name -> executable) on `args`
    (`autotune.fastest`, after one warm-up call each); the arguments at the `donated`
    positions are copied for every call."""
    def run(name):
        fresh = [_copied(a) if i in donated else a for i, a in enumerate(args)]
        jax.block_until_ready(fresh)
        begin = time.perf_counter()
        jax.block_until_ready(programs[name](*fresh))
        return time.perf_counter() - begin

    for name in programs:
        run(name)  # warm-up: the first run of an executable allocates
    return autotune.fastest(run, list(programs), TUNE_SECONDS, MAX_REPS)


def _digest(lowerings):
    return hashlib.sha256(repr(sorted(lowerings)).encode()).hexdigest()


def faster(programs, args, donated=(0,)):
    """The fastest on `args` of `programs`: {"tuned": the step jitted as traced in "auto"
    mode, "heuristic" and "xla": the same step jitted with `pin(step, mode)`, "xla_eigen":
    `pin(step, "xla")` jitted with `EIGEN_CONVOLUTIONS`}. A step without convolutions is
    "tuned", untimed. "heuristic" and "xla" are left out where the tuned step lowers every
    convolution as XLA does (they are then its program), "heuristic" also where its
    lowerings are the tuned step's or XLA's. All are skipped, and "tuned" kept, when
    compiling "tuned" took over `MAX_COMPILE_SECONDS`."""
    with autotune.recording() as used:
        traced = programs["tuned"].trace(*args)  # lowered only if the verdict is not cached
    if not used:
        return programs["tuned"]
    all_xla = _all_xla(used)
    key = autotune.decision_key("step", lowerings=_digest(used), uses=len(used),
                                backend=jax.default_backend(), candidates=",".join(CHOICES))

    def timer():
        start = time.perf_counter()
        compiled = {"tuned": traced.lower().compile()}
        if time.perf_counter() - start > MAX_COMPILE_SECONDS:
            return {"tuned": 0.0}
        if not all_xla:
            with autotune.recording() as plain:
                heuristic = programs["heuristic"].lower(*args)
            if sorted(plain) != sorted(used) and not _all_xla(plain):
                compiled["heuristic"] = heuristic.compile()
            compiled["xla"] = programs["xla"].lower(*args).compile()
        eigen = _compiled_or_none(programs["xla_eigen"], args)
        if eigen is not None:
            compiled["xla_eigen"] = eigen
        return measure(compiled, args, set(donated))

    return programs[autotune.choose_with(key, CHOICES, "tuned" if all_xla else "xla", timer)]


def _compiled_or_none(program, args):
    """`program` compiled for `args`, or None where this jaxlib refuses its compiler options
    (`EIGEN_CONVOLUTIONS` names options of XLA:CPU that a later XLA may rename)."""
    try:
        return program.lower(*args).compile()
    except jax.errors.JaxRuntimeError as error:
        if "compile option" not in str(error) and "enum value" not in str(error):
            raise
        return None


def _all_xla(used):
    return all(lowering == "xla" for _, lowering in used)


def candidates(tuned, fn):
    """The programs `faster` chooses among, for the step `fn` whose "auto" mode jit is
    `tuned` (its first argument donated)."""
    return {"tuned": tuned,
            **{mode: jax.jit(pin(fn, mode), donate_argnums=(0,)) for mode in ("heuristic", "xla")},
            "xla_eigen": jax.jit(pin(fn, "xla"), donate_argnums=(0,),
                                 compiler_options=EIGEN_CONVOLUTIONS)}


def pin(fn, mode):
    """`fn` traced with the lowering mode `mode` (`convolution.pinned`), under `fn`'s name
    (profiles and `jax.monitoring` name the step as they name the tuned one)."""
    @functools.wraps(fn)
    def pinned_fn(*args):
        with convolution.pinned(mode):
            return fn(*args)

    return pinned_fn
