"""Shared test set-up: JAX's persistent compilation cache, reproducible initialisation and
fresh auto names per test.

XLA compilation dominates the suite's time, and most tests compile the same small programs
run after run. Every compiled program is kept in JAX's persistent cache (keyed by the program,
the compile options, jax's version and the machine), by default under
`~/.cache/lamina/jax-tests`; set `JAX_COMPILATION_CACHE_DIR` to put it elsewhere. The
variables are set before jax is imported, so subprocesses started by tests inherit them.
"""
import os
from pathlib import Path

_CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_CACHE_HOME / "lamina" / "jax-tests"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import pytest  # noqa: E402

import lamina as lm  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_names_and_seed():
    lm.reset_names()
    lm.random.set_seed(0)
    yield
    lm.mixed_precision.set_global_policy(None)
