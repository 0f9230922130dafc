"""The step guard: a whole compiled step keeps its autotuned convolution lowerings only where
it runs faster than the same step in the "heuristic" mode and with XLA's lowering everywhere.

The autotune times each convolution alone, on random inputs at a cut batch. Inside a whole
step the lowerings interact (what XLA fuses around them, the layouts it picks, the memory
they keep for the backward pass), so choices that each win alone can lose together, and
two candidates close in isolation can be far apart in the step. Measured on a quiet
machine: the tutorial autoencoder's step with the autotune's choices ran at 0.65x the
all-XLA step's speed (`benchmarks/autoencoder.py --per-layer`), and W4's step at about 0.7x
of the same step with "patches" where the autotune had picked "hybrid" by a hair. The guard
decides at the level the user feels. When a step traced in "auto" mode uses any lowering
other than XLA's (`autotune.recording`), the same step is traced again under
`convolution.pinned("heuristic")` and `pinned("xla")`; the distinct programs are compiled
and run on the step's own arguments (the donated ones copied, so the live state is
untouched), alternating, and the fastest is kept, XLA's unless another is faster by more
than `autotune.MARGIN`. The verdict is cached in memory and on disk like the per-shape
decisions, keyed by the step's lowerings (operation, shapes and lowering of every
convolution it uses) and the machine, so a step is timed once per machine. All the
programs compute the same function, to float rounding.
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
CHOICES = ("tuned", "heuristic", "xla")
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
    mode, "heuristic" and "xla": the same step jitted with `pin(step, mode)`}; "tuned" when
    its trace uses XLA's lowering everywhere (then they are one program). "heuristic" is
    left out where its lowerings are those of "tuned" or XLA's. All are skipped, and
    "tuned" kept, when compiling "tuned" took over `MAX_COMPILE_SECONDS`."""
    with autotune.recording() as used:
        traced = programs["tuned"].trace(*args)  # lowered only if the verdict is not cached
    if not used:
        return programs["tuned"]
    key = autotune.decision_key("step", lowerings=_digest(used), uses=len(used),
                                backend=jax.default_backend())

    def timer():
        start = time.perf_counter()
        compiled = {"tuned": traced.lower().compile()}
        if time.perf_counter() - start > MAX_COMPILE_SECONDS:
            return {"tuned": 0.0}
        with autotune.recording() as plain:
            heuristic = programs["heuristic"].lower(*args)
        if plain and sorted(plain) != sorted(used):
            compiled["heuristic"] = heuristic.compile()
        compiled["xla"] = programs["xla"].lower(*args).compile()
        return measure(compiled, args, set(donated))

    return programs[autotune.choose_with(key, CHOICES, "xla", timer)]


def pin(fn, mode):
    """`fn` traced with the lowering mode `mode` (`convolution.pinned`), under `fn`'s name
    (profiles and `jax.monitoring` name the step as they name the tuned one)."""
    @functools.wraps(fn)
    def pinned_fn(*args):
        with convolution.pinned(mode):
            return fn(*args)

    return pinned_fn
