"""One-time autotuning of a lowering: time the candidate programs once, remember the winner.

`choose(key, candidates, structs, default)` runs at trace time, where shapes are static but
values are not: each candidate is compiled as its own program (`jax.jit(...).lower(structs)`)
and run on random inputs of those shapes, one call each, then further rounds (alternating
order) while under `TUNE_SECONDS`, at most `MAX_REPS`. The fastest (minimum time) wins;
`default` (XLA's own lowering, for convolutions) is kept unless another is
faster by more than `MARGIN`, so a noisy measurement never trades it for a slower one.
Winners are kept in memory and on disk (`tuning_cache`), keyed by `decision_key`: the
operation, shapes, dtype, strides, padding, dilation, backend and machine (CPU model, core
count, jax version, device kind), so each shape is timed once per machine.

Every candidate computes the same function (tests compare each with XLA's), so the choice
changes speed, never results beyond float rounding. `tuning_stats()` reports how many
decisions were timed in this process and the seconds spent (compiling included).
"""
import contextlib
import functools
import json
import os
import platform
import threading
import time

import jax
import numpy as np

from lamina.core.lowering import tuning_cache

# Seconds of timed running per decision, after compiling and one warm-up call per candidate.
TUNE_SECONDS = 0.6
MAX_REPS = 5
# Another candidate replaces the default only when faster by more than this fraction.
MARGIN = 0.03

_LOCK = threading.RLock()
_MEMORY = {}
_DISK = {}
_STATS = {"decisions": 0, "seconds": 0.0}
# True while candidates are compiled: a decision nested in a candidate (the convolution inside
# a transposed convolution's "dilated" form) takes its `untimed` answer and is not stored, so
# one decision never times, nor caches, the candidates of another at its cut batch.
_MEASURING = [False]
# Lists that the lowerings used by the programs traced in this thread are appended to
# (`recording`, read by `step_guard`).
_USED = threading.local()


@functools.cache
def machine():
    """A description of this machine that tuned choices are valid for."""
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), model)
    except OSError:
        pass
    devices = jax.devices()
    return (f"{platform.machine()} {model} x{os.cpu_count()} jax {jax.__version__} "
            f"{devices[0].platform}:{devices[0].device_kind}")


def decision_key(op, **fields):
    """The cache key of one decision: `op`, the given fields and `machine()`, as JSON."""
    return json.dumps({"op": op, **fields, "machine": machine()}, sort_keys=True)


def tuning_stats():
    """{"decisions": timed decisions in this process, "seconds": time they took}."""
    return dict(_STATS)


def memory():
    """{operation and shapes: chosen lowering} of the decisions held in memory (for reports)."""
    with _LOCK:
        return {" ".join(f"{k}={v}" for k, v in json.loads(key).items() if k != "machine"): name
                for key, name in _MEMORY.items()}


def clear_memory():
    """Forget the choices held in memory (the disk cache is read again on next use)."""
    with _LOCK:
        _MEMORY.clear()
        _DISK.clear()


@contextlib.contextmanager
def recording():
    """Collect, while the block runs, the convolution lowerings that traced programs use
    (XLA's, "xla", included): yields a list that `used` appends `(operation and shapes,
    lowering)` pairs to (an inner recording takes them from an outer one while it runs)."""
    stack = _USED.__dict__.setdefault("stack", [])
    found = []
    stack.append(found)
    try:
        yield found
    finally:
        stack.pop()


def used(what, name):
    """Note, in the innermost `recording`, that a traced program lowers `what` (operation and
    shapes) by `name`. `measure` compiles its candidates inside a recording of its own, so
    they are not noted as the program's."""
    stack = _USED.__dict__.get("stack")
    if stack:
        stack[-1].append((what, name))


def _disk_entries(path):
    if path not in _DISK:
        _DISK[path] = tuning_cache.load(path)
    return _DISK[path]


def _random_inputs(structs):
    rng = np.random.default_rng(0)
    return [jax.numpy.asarray(rng.standard_normal(s.shape, np.float32), s.dtype)
            for s in structs]


def fastest(run, names, seconds=TUNE_SECONDS, max_reps=MAX_REPS):
    """Fastest seconds of each name: `run(name)` runs it once and returns its seconds. One
    round, then more, alternating the order, while under `seconds` (at most `max_reps`); the
    minimum is the estimate least disturbed by other work on the machine."""
    times = {name: [] for name in names}
    start = time.perf_counter()
    for rep in range(max_reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            times[name].append(run(name))
        if time.perf_counter() - start > seconds:
            break
    return {name: min(t) for name, t in times.items()}


def measure(candidates, structs):
    """Fastest seconds per call of each candidate (name -> function of `structs`' arrays),
    each compiled as its own program and run on random inputs (`fastest`)."""
    with jax.ensure_compile_time_eval():
        args = _random_inputs(structs)
        with recording():
            compiled = {name: jax.jit(fn).lower(*structs).compile()
                        for name, fn in candidates.items()}

        def run(name):
            begin = time.perf_counter()
            jax.block_until_ready(compiled[name](*args))
            return time.perf_counter() - begin

        return fastest(run, list(compiled))


def gradients(fn):
    """The training candidate of `fn(a, b)`: (a, b, cotangent) -> the gradients of both."""
    return lambda a, b, g: jax.vjp(fn, a, b)[1](g)


def winner(timings, default):
    """The fastest candidate, but `default` unless beaten by more than `MARGIN`."""
    best = min(timings, key=timings.get)
    if default in timings and timings[default] <= timings[best] * (1 + MARGIN):
        return default
    return best


def choose(key, candidates, structs, default, untimed=None):
    """The name of the fastest of `candidates` for `key`: from memory, the disk cache, or
    timed now (then stored in both); `untimed` (default: `default`) when asked while another
    decision's candidates are being compiled."""
    with _LOCK:
        if _MEASURING[0] and _known(key, candidates) is None:
            return default if untimed is None else untimed
        return choose_with(key, candidates, default, lambda: measure(candidates, structs))


def _known(key, names):
    known = _MEMORY.get(key) or _disk_entries(tuning_cache.cache_path()).get(key)
    return known if known in names else None


def choose_with(key, names, default, timer):
    """The `names` entry for `key`: from memory, the disk cache, or the `winner` of
    `timer()` ({name: seconds}, run now, its candidates' compilation counted as measuring),
    then stored in both."""
    with _LOCK:
        known = _known(key, names)
        if known is not None:
            _MEMORY[key] = known
            return known
        start = time.perf_counter()
        _MEASURING[0] = True
        try:
            timings = timer()
        finally:
            _MEASURING[0] = False
        chosen = winner(timings, default)
        _STATS["decisions"] += 1
        _STATS["seconds"] += time.perf_counter() - start
        path = tuning_cache.cache_path()
        _MEMORY[key] = chosen
        _disk_entries(path)[key] = chosen
        tuning_cache.store(path, {key: chosen})
        return chosen
