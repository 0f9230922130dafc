"""The step guard: a whole compiled step keeps its chosen convolution lowerings only where it
runs faster than the same step with XLA's lowering everywhere.

The autotune times each convolution alone, on random inputs at a cut batch. Inside a whole
step the lowerings interact (what XLA fuses around them, the layouts it picks, the memory
they keep for the backward pass), so choices that each win alone can lose together:
measured on the Keras tutorial autoencoder, the step with the autotune's choices ran at
0.65x the all-XLA step's speed (`benchmarks/autoencoder.py --per-layer`). The guard decides
at the level the user feels. When a step traced in "auto" mode uses any lowering other than
XLA's (`autotune.recording`), the same step is traced again under
`convolution.pinned("xla")`, both are compiled and run on the step's own arguments (the
donated ones copied, so the live state is untouched), alternating, and the faster is kept,
XLA's unless the other is faster by more than `autotune.MARGIN`. The verdict is cached in
memory and on disk like the per-shape decisions, keyed by the step's lowerings (operation,
shapes, lowering of every convolution it uses) and the machine, so a step is timed once per
machine. Both programs compute the same function, to float rounding.
"""
import hashlib
import time

import jax

from lamina.core.lowering import autotune, convolution

# Seconds of timed running per verdict after one warm-up call of each program; at most
# `MAX_REPS` calls of each are timed, at least one.
TUNE_SECONDS = 1.0
MAX_REPS = 5
CHOICES = ("tuned", "xla")


def applies(jit_options):
    """Whether a step jitted with `jit_options` is guarded: on CPU, in the "auto" mode, on
    one device (no shardings)."""
    return (not jit_options and jax.default_backend() == "cpu"
            and convolution.mode() == "auto")


def _copied(tree):
    return jax.tree_util.tree_map(lambda a: a.copy() if isinstance(a, jax.Array) else a, tree)


def measure(programs, args, donated):
    """Fastest seconds per call of each compiled program (name -> executable) on `args`;
    the arguments at the `donated` positions are copied for every call."""
    def call(program):
        fresh = [_copied(a) if i in donated else a for i, a in enumerate(args)]
        jax.block_until_ready(fresh)
        begin = time.perf_counter()
        jax.block_until_ready(program(*fresh))
        return time.perf_counter() - begin

    names = list(programs)
    for name in names:
        call(programs[name])  # warm-up: the first run of an executable allocates
    times = {name: [] for name in names}
    start = time.perf_counter()
    for rep in range(MAX_REPS):
        for name in names if rep % 2 == 0 else names[::-1]:
            times[name].append(call(programs[name]))
        if time.perf_counter() - start > TUNE_SECONDS:
            break
    return {name: min(t) for name, t in times.items()}


def faster(tuned, pinned, args, donated=(0,)):
    """`tuned` or `pinned` (the same step jitted, `pinned` traced under
    `convolution.pinned("xla")`), whichever runs `args` faster on this machine; `tuned`
    when its trace uses XLA's lowering everywhere (then the two are one program)."""
    with autotune.recording() as lowerings:
        lowered = tuned.lower(*args)
    if not lowerings:
        return tuned
    digest = hashlib.sha256(repr(sorted(lowerings)).encode()).hexdigest()
    key = autotune.decision_key("step", lowerings=digest, uses=len(lowerings),
                                backend=jax.default_backend())

    def programs():
        return {"tuned": lowered.compile(), "xla": pinned.lower(*args).compile()}

    chosen = autotune.choose_with(key, CHOICES, "xla",
                                  lambda: measure(programs(), args, set(donated)))
    return tuned if chosen == "tuned" else pinned


def pin_to_xla(fn):
    """`fn` traced with every convolution on XLA's lowering."""
    def pinned_fn(*args):
        with convolution.pinned("xla"):
            return fn(*args)

    return pinned_fn
