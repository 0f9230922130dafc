"""Smoke test of benchmarks/: the lamina workloads W1-W4 and the in-repo hand-written JAX
reference at tiny sizes, sanity checks only (not timing), plus run.py's summary arithmetic.

Everything needed is inside the repository (benchmarks/common.py, reference_jax.py).
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import common as C
import workloads as W

TINY = C.Sizes.quick(mlp_samples=1024, cnn_samples=512, gan_iters=6, gan_warmup=3)

EXPECTED_CHECKS = {
    "w1": {"losses finite", "loss decreased", "head changed"},
    "w2": {"losses finite", "loss decreased", "only head trainable", "frozen layers unchanged",
           "head changed"},
    "w3": {"losses finite", "D step changes D", "G step leaves D unchanged", "G step changes G"},
    "w4": {"losses finite", "loss decreased", "every weight changed"},
}
REFERENCE_CHECKS = {
    "w1": {"losses finite", "loss decreased", "head changed"},
    "w2": {"losses finite", "loss decreased", "frozen layers unchanged", "head changed"},
    "w3": {"losses finite", "D changed", "G changed"},
    "w4": {"losses finite", "loss decreased", "every weight changed"},
}


def assert_sane(result, workload, expected):
    missing = expected - set(result["sanity"])
    assert not missing, f"{workload}: sanity checks not recorded: {missing}"
    failed = [name for name, ok in result["sanity"].items() if not ok]
    assert not failed, f"{workload}: sanity checks failed: {failed}"
    assert result["iters_per_s" if workload == "w3" else "samples_per_s"] > 0


@pytest.mark.parametrize("workload", ["w1", "w2", "w3", "w4"])
def test_lamina_workload_sanity(workload):
    assert_sane(W.LAMINA[workload](TINY), workload, EXPECTED_CHECKS[workload])


# the reference CNN compiles XLA's convolutions for a minute on two cores: a slow test
@pytest.mark.parametrize("workload", ["w1", "w2", "w3",
                                      pytest.param("w4", marks=pytest.mark.slow)])
def test_jax_reference_sanity(workload):
    import reference_jax as R

    assert_sane(R.WORKLOADS[workload](TINY), workload, REFERENCE_CHECKS[workload])


@pytest.mark.slow
def test_jax_reference_fused_gan_sanity():
    import reference_jax as R

    assert_sane(R.w3(TINY, fused=True), "w3", REFERENCE_CHECKS["w3"])


def test_w1_with_steps_per_execution_sanity():
    assert_sane(W.lamina_mlp(TINY, steps_per_execution=8), "w1", EXPECTED_CHECKS["w1"])


def test_sizes_are_checked():
    with pytest.raises(ValueError, match="mlp_batch"):
        C.Sizes(mlp_batch=0)
    with pytest.raises(ValueError, match="epochs"):
        C.Sizes(mlp_epochs=1)
    assert C.Sizes().mlp_samples == 60_000 and C.Sizes.quick().mlp_samples == 2_048


def test_data_is_deterministic_and_learnable_shaped():
    x, y = C.mlp_data(64)
    x2, y2 = C.mlp_data(64)
    assert x.shape == (64, C.MLP_IN) and x.dtype == "float32" and y.dtype == "int32"
    assert (x == x2).all() and (y == y2).all() and set(y) <= set(range(C.MLP_OUT))
    images, labels = C.cnn_data(8)
    assert images.shape == (8, *C.CNN_IMAGE) and labels.shape == (8,)
    feed = C.GanFeeder(4)
    assert feed.real().shape == (4, C.GAN_OUT) and feed.noise().shape == (4, C.GAN_LATENT)


def test_run_arguments():
    import run

    args = run.parse_args(["--quick", "--size", "mlp_samples=512", "--workloads", "w1,w3"])
    assert args.reps == 1 and args.out is None and args.sizes.mlp_samples == 512
    assert args.sizes.cnn_samples == C.Sizes.quick().cnn_samples
    full = run.parse_args(["--reps", "2"])
    assert full.sizes == C.Sizes() and full.out.endswith(".jsonl")
    assert Path(full.out).parent == Path(run.__file__).resolve().parent / "results"
    assert run.parse_args(["--out", "none"]).out is None
    with pytest.raises(SystemExit):
        run.parse_args(["--size", "nonsense=3"])


def _summary_runner(argv, values):
    import run

    runner = run.Runner.__new__(run.Runner)
    runner.args, runner.versions, runner.records = run.parse_args(argv), {}, []
    workload = runner.args.workloads[0]
    for impl, per_rep in values.items():
        for rep, value in enumerate(per_rep, start=1):
            runner.records.append({"kind": "run", "workload": workload, "impl": impl,
                                   "rep": rep, "value": value, "error": None,
                                   "sanity": {"ok": True}, "steal_frac": 0.0,
                                   "loadavg_1min": [0.0, 0.0]})
    return runner.summarise()["workloads"][workload]


def test_summary_ratios_and_the_w4_target_against_torch():
    lamina = _summary_runner(["--workloads", "w4", "--reps", "2", "--out", "none"],
                             {"lamina": (3000, 2000), "jax": (1000, 1000),
                              "torch": (2500, 2500)})["lamina"]
    assert lamina["ratios"] == [3.0, 2.0] and lamina["ratios_vs_torch"] == [1.2, 0.8]
    assert lamina["median_ratio_vs_torch"] == 1.0
    assert lamina["target_reference"] == "torch" and lamina["meets_target"] is True


def test_w1_steps_per_execution_rows_are_held_to_issue_4_target_from_8_on():
    import run

    assert run.parse_args(["--w1-spe", "none"]).w1_spe == []
    w1 = _summary_runner(
        ["--workloads", "w1", "--reps", "2", "--w1-spe", "4,8,32", "--out", "none"],
        {"lamina": (1000, 950), "lamina-spe4": (1200, 1200), "lamina-spe8": (1100, 1000),
         "lamina-spe32": (1000, 1000), "jax": (1000, 1000)})
    assert w1["lamina-spe4"]["ratios"] == [1.2, 1.2] and "target" not in w1["lamina-spe4"]
    assert w1["lamina-spe8"]["ratios"] == [1.1, 1.0]
    assert (w1["lamina-spe8"]["target"], w1["lamina-spe8"]["meets_target"]) == (1.05, True)
    assert (w1["lamina-spe32"]["target"], w1["lamina-spe32"]["meets_target"]) == (1.05, False)
    assert (w1["lamina"]["target"], w1["lamina"]["meets_target"]) == (0.95, True)
    assert list(w1)[1:] == ["lamina", "lamina-spe4", "lamina-spe8", "lamina-spe32", "jax"]


@pytest.mark.slow
def test_run_main_quick_writes_results_and_exits_0(tmp_path, capsys):
    """run.py end to end, as `--quick` runs it, on W2 with 512 samples (lamina + the JAX
    reference only, so it stays a few seconds of compilation)."""
    import json

    import run

    out = tmp_path / "results.jsonl"
    status = run.main(["--quick", "--workloads", "w2", "--size", "mlp_samples=512",
                       "--keras", "no", "--torch", "no", "--out", str(out)])
    assert status == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["impl"] for r in records if r["kind"] == "run"] == ["lamina", "jax"]
    summary = records[-1]
    assert summary["kind"] == "summary" and summary["sizes"]["mlp_samples"] == 512
    assert summary["workloads"]["w2"]["lamina"]["sanity_ok"]
    assert "| w2 | lamina |" in capsys.readouterr().out
