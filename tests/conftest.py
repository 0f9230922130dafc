"""Shared test set-up: JAX's persistent compilation cache, convolutions on the untimed rule
(no autotune outside its own tests), the slow tests listed in
`tests/slow_tests.txt`, reproducible initialisation and fresh auto names per test.

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
# convolutions take the untimed rule, so no test's lowering depends on a timing; the
# autotune's own tests unset it, and name their cache file with `LAMINA_AUTOTUNE_CACHE`
# (tests write only into temporary folders)
os.environ.setdefault("LAMINA_CONV_LOWERING", "heuristic")
os.environ.setdefault("LAMINA_AUTOTUNE_CACHE", "none")

import pytest  # noqa: E402

import lamina as lm  # noqa: E402

SLOW_LIST = Path(__file__).with_name("slow_tests.txt")


def _listed_slow():
    lines = (line.strip() for line in SLOW_LIST.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def pytest_collection_modifyitems(session, config, items):
    """Mark the tests listed in slow_tests.txt `slow` (deselected by the default `-m 'not
    slow'`, run by `pytest -m slow`). When the whole suite is collected, every listed id
    must name a test, so a renamed test cannot silently leave the slow stage."""
    listed = _listed_slow()
    for item in items:
        if item.nodeid in listed:
            item.add_marker(pytest.mark.slow)
    whole_suite = [Path(a).resolve() for a in config.args] == [Path(__file__).parent]
    if whole_suite:
        unknown = sorted(listed - {item.nodeid for item in items})
        if unknown:
            raise pytest.UsageError(f"{SLOW_LIST.name} names tests that do not exist (renamed "
                                    "or removed? update the list):\n" + "\n".join(unknown))


@pytest.fixture(autouse=True)
def _fresh_names_and_seed():
    lm.reset_names()
    lm.random.set_seed(0)
    yield
    lm.mixed_precision.set_global_policy(None)
