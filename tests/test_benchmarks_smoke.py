"""Smoke test of benchmarks/: the lamina workloads W1-W4 at tiny sizes, sanity checks only.

Not a timing test. It needs the anchor benchmarks (`common.py`) from the project's shared
folder (../shared/anchors next to the repository, or $LAMINA_ANCHORS) and is skipped
without them.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import workloads as W  # noqa: E402

TINY = {"mlp_samples": 1024, "mlp_epochs": 3, "gan_iters": 6, "gan_warmup": 3,
        "cnn_samples": 512, "cnn_epochs": 3}


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
    "w4": {"loss decreased", "losses finite", "every weight changed"},
}


@pytest.mark.parametrize("workload", ["w1", "w2", "w3", "w4"])
def test_lamina_workload_sanity(C, workload):
    result = W.LAMINA[workload](TINY, C)
    missing = EXPECTED_CHECKS[workload] - set(result["sanity"])
    assert not missing, f"{workload}: sanity checks not recorded: {missing}"
    failed = [name for name, ok in result["sanity"].items() if not ok]
    assert not failed, f"{workload}: sanity checks failed: {failed}"
    key = "iters_per_s" if workload == "w3" else "samples_per_s"
    assert result[key] > 0


def test_anchor_process_result_is_the_measurement_only(C):
    """An anchor script run in its own process (as the PyTorch reference is): here impl_jax.py
    with this interpreter, W2 at --quick sizes."""
    result = W.run_anchor_process("impl_jax.py", "w2", True, sys.executable)
    assert result["samples_per_s"] > 0 and all(result["sanity"].values())
    assert not {"workload", "impl", "rep", "steal_frac"} & set(result)
    assert "jax" in result["anchor_versions"]


def test_summary_ratios_and_the_w4_target_against_torch(C):
    import run

    args = run.parse_args(["--workloads", "w4", "--reps", "2"])
    runner = run.Runner.__new__(run.Runner)
    runner.args, runner.versions, runner.records = args, {}, []
    for rep, (lam, jx, tc) in enumerate([(3000, 1000, 2500), (2000, 1000, 2500)], start=1):
        for impl, value in (("lamina", lam), ("jax", jx), ("torch", tc)):
            runner.records.append({"kind": "run", "workload": "w4", "impl": impl, "rep": rep,
                                       "value": value, "error": None, "sanity": {"ok": True},
                                       "steal_frac": 0.0, "loadavg_1min": [0.0, 0.0]})
    lamina = runner.summarise()["workloads"]["w4"]["lamina"]
    assert lamina["ratios"] == [3.0, 2.0] and lamina["ratios_vs_torch"] == [1.2, 0.8]
    assert lamina["median_ratio_vs_torch"] == 1.0
    assert lamina["target_reference"] == "torch" and lamina["meets_target"] is True


def test_w1_steps_per_execution_rows_are_held_to_issue_4_target_from_8_on(C):
    import run

    args = run.parse_args(["--workloads", "w1", "--reps", "2", "--w1-spe", "4,8,32"])
    assert run.parse_args(["--w1-spe", "none"]).w1_spe == []
    runner = run.Runner.__new__(run.Runner)
    runner.args, runner.versions, runner.records = args, {}, []
    values = {"lamina": (1000, 950), "lamina-spe4": (1200, 1200), "lamina-spe8": (1100, 1000),
              "lamina-spe32": (1000, 1000), "jax": (1000, 1000)}
    for impl, per_rep in values.items():
        for rep, value in enumerate(per_rep, start=1):
            runner.records.append({"kind": "run", "workload": "w1", "impl": impl, "rep": rep,
                                   "value": value, "error": None, "sanity": {"ok": True},
                                   "steal_frac": 0.0, "loadavg_1min": [0.0, 0.0]})
    w1 = runner.summarise()["workloads"]["w1"]
    assert w1["lamina-spe4"]["ratios"] == [1.2, 1.2] and "target" not in w1["lamina-spe4"]
    assert w1["lamina-spe8"]["ratios"] == [1.1, 1.0]
    assert (w1["lamina-spe8"]["target"], w1["lamina-spe8"]["meets_target"]) == (1.05, True)
    assert (w1["lamina-spe32"]["target"], w1["lamina-spe32"]["meets_target"]) == (1.05, False)
    assert (w1["lamina"]["target"], w1["lamina"]["meets_target"]) == (0.95, True)
    assert list(w1)[1:] == ["lamina", "lamina-spe4", "lamina-spe8", "lamina-spe32", "jax"]


def test_w1_with_steps_per_execution_sanity(C):
    result = W.lamina_mlp_spe(8)(TINY, C)
    assert all(result["sanity"].values()) and result["samples_per_s"] > 0
