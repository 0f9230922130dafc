"""Process memory for the benchmarks, read from Linux's /proc (numpy-free, framework-free).

Two figures, both in MB above a baseline taken after the framework's runtime has started
and the data exists:

- `peak`: the highest resident set size so far (VmHWM), compilation included. XLA's
  compiler and a jit's tracing caches use a fixed amount of host memory per program, the
  same for full and LoRA fine-tuning of one model, so this figure mixes that with what the
  model needs.
- the steady peak: `settle()` after the warm-up steps gives the freed heap back to the
  system (glibc's `malloc_trim`) and resets VmHWM (`/proc/self/clear_refs`, "5"); the peak
  read after the timed steps is then what training holds and allocates per step (weights,
  optimizer state, gradients, activations, compiled programs), compilation left out.

Elsewhere than Linux (no /proc) both fall back to `ru_maxrss` and `settle()` does nothing.
"""
import ctypes
import os
import resource


def _status_mb(key):
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def current_mb():
    """The resident set size now."""
    if os.path.exists("/proc/self/status"):
        return _status_mb("VmRSS")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_mb():
    """The highest resident set size since the start or the last `settle()`."""
    if os.path.exists("/proc/self/status"):
        return _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settle():
    """Return freed heap to the system and restart the peak from the current size."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass
