"""Smoke test of benchmarks/: the lamina workloads W1-W3 at tiny sizes, sanity checks only.

Not a timing test. It needs the anchor benchmarks (`common.py`) from the project's shared
folder (../shared/anchors next to the repository, or $LAMINA_ANCHORS) and is skipped
without them.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads as W  # noqa: E402

TINY = dict(mlp_samples=1024, mlp_epochs=3, gan_iters=6, gan_warmup=3)


@pytest.fixture(scope="module")
def C():
    try:
        return W.common()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


EXPECTED_CHECKS = {
    "w1": {"loss decreased", "head changed"},
    "w2": {"loss decreased", "only head trainable", "frozen layers unchanged", "head changed"},
    "w3": {"losses finite", "D step changes D", "G step leaves D unchanged", "G step changes G"},
}


@pytest.mark.parametrize("workload", ["w1", "w2", "w3"])
def test_lamina_workload_sanity(C, workload):
    result = W.LAMINA[workload](TINY, C)
    missing = EXPECTED_CHECKS[workload] - set(result["sanity"])
    assert not missing, f"{workload}: sanity checks not recorded: {missing}"
    failed = [name for name, ok in result["sanity"].items() if not ok]
    assert not failed, f"{workload}: sanity checks failed: {failed}"
    key = "iters_per_s" if workload == "w3" else "samples_per_s"
    assert result[key] > 0
