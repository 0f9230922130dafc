"""Smoke tests of the examples: each `main(quick=True)` runs in-process and returns the facts it
verified on the weights; a claim the examples print must hold, or the test fails."""
import importlib.util
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"lamina_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(facts, expected):
    failed = [name for name, ok in facts.items() if ok is not True]
    assert not failed, f"claims that did not hold: {failed}"
    assert expected <= set(facts), f"missing facts: {sorted(expected - set(facts))}"


def test_shared_layer_example():
    facts = load("shared_layer").main(quick=True)
    check(facts, {
        "part1_flag_still_true", "part1_model1_summary_frozen", "part1_explain_names_gate",
        "part1_model2_trains_shared", "part1_model1_training_refused", "part1_restored",
        "part2_frozen_in_model1", "part2_frozen_in_model2", "part2_explain_names_flag",
        "part3_flag_untouched", "part3_frozen_in_model1", "part3_model2_trains_shared",
        "part3_explain_names_freeze",
    })


def test_gan_example(tmp_path):
    facts = load("gan").main(quick=True, out_dir=str(tmp_path))
    check(facts, {
        "d_flag_true", "d_frozen_in_combined", "d_trains_alone", "d_trained_by_d_step",
        "d_bitwise_unchanged_by_combined", "g_trained_through_frozen_d", "keras2_recipe_refused",
    })


def test_transfer_learning_example():
    facts = load("transfer_learning").main(quick=True)
    check(facts, {
        "base_layer_flags_untouched", "only_head_b_trains", "base_bitwise_unchanged",
        "task_a_preserved", "all_weights_train", "base_fine_tuned",
    })


def test_demo_runs_every_example_and_reports(monkeypatch, capsys):
    # the examples themselves are tested above; here only demo.py's wiring, with stub mains
    monkeypatch.syspath_prepend(str(EXAMPLES))
    demo = load("demo")
    calls = []
    for _, module in demo.SCENARIOS:
        monkeypatch.setattr(module, "main",
                            lambda quick=False, name=module.__name__: calls.append((name, quick))
                            or {f"{name}_claim": True})
    assert demo.main(quick=True) is True
    assert calls == [("shared_layer", True), ("gan", True), ("transfer_learning", True)]
    out = capsys.readouterr().out
    assert "Every claim verified." in out and "gan_claim" in out

    monkeypatch.setattr(demo.SCENARIOS[1][1], "main", lambda quick=False: {"broken": False})
    assert demo.main(quick=True) is False
    assert "SOME CLAIMS FAILED" in capsys.readouterr().out
