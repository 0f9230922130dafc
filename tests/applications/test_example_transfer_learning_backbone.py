"""examples/transfer_learning_backbone.py runs and its claims hold (slow: it pretrains a
MobileNetV2, transfers it in two stages and trains a second one from scratch)."""
import importlib.util
import pathlib

import pytest

pytest.importorskip("sklearn.datasets")
EXAMPLE = (pathlib.Path(__file__).resolve().parents[2] / "examples"
           / "transfer_learning_backbone.py")
BASE_GROUPS = {"stem", "stage 1", "stage 2", "stage 3", "stage 4"}


def _trained_by_explain(stage):
    return {group for group, counts in stage["explain"].items() if counts["trained"]}


def test_the_example_runs_and_its_claims_hold(capsys):
    spec = importlib.util.spec_from_file_location("lamina_example_backbone", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    facts = module.main(seed=0)
    out = capsys.readouterr().out
    # stage 1: explain says only the head trains, and only the head's weights moved (bit for
    # bit: the base's weights and BatchNormalization statistics are unchanged)
    first = facts["stage 1"]
    assert _trained_by_explain(first) == {"head"}
    assert first["changed"] == {"head"}
    assert all(first["explain"][g]["forward pass"] == 0 for g in BASE_GROUPS)
    # stage 2: the top two stages and the head train, the stem and stages 1-2 stay frozen, and
    # `training=False` keeps every moving statistic of the base
    second = facts["stage 2"]
    assert _trained_by_explain(second) == {"head", "stage 3", "stage 4"}
    assert second["changed"] == {"head", "stage 3", "stage 4"}
    assert second["statistics_kept"] is True
    assert all(second["explain"][g]["forward pass"] == 0 for g in BASE_GROUPS)
    # the accuracy claims (seeds 0 / 1: 0.933 / 0.958 on the digits 0-4 held out, 0.372 / 0.505
    # after stage 1, 0.572 / 0.615 after stage 2, 0.344 / 0.203 from scratch; chance is 0.2)
    assert facts["source_accuracy"] >= 0.8
    assert first["accuracy"] >= 0.3
    assert second["accuracy"] >= first["accuracy"] + 0.05
    assert second["accuracy"] >= facts["scratch_accuracy"] + 0.15
    assert "transfer minus from scratch" in out
