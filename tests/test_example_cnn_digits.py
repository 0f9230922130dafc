"""The CNN example on the 8x8 digits: a quick smoke run, and the full run's accuracy claim."""
import importlib.util
import pathlib

import pytest

pytest.importorskip("sklearn.datasets")

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "cnn_digits.py"
QUICK_FACTS = {"shapes_and_parameters", "training_loss_decreased", "evaluate_matches_predict",
               "frozen_conv_bitwise_unchanged", "head_still_trains"}


def load():
    spec = importlib.util.spec_from_file_location("lamina_example_cnn_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(facts, expected):
    failed = [name for name, ok in facts.items() if ok is not True]
    assert not failed, f"claims that did not hold: {failed}"
    assert set(facts) == expected, f"facts: {sorted(facts)}"


def test_cnn_digits_quick():
    check(load().main(quick=True), QUICK_FACTS)


@pytest.mark.slow
def test_cnn_digits_full_run_reaches_95_percent_test_accuracy():
    check(load().main(), QUICK_FACTS | {"test_accuracy_at_least_0_95"})
