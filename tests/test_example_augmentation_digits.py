"""The augmentation example on the 8x8 digits: a quick smoke run, and the full run's claim
that augmentation helps on a shifted and rotated test set."""
import importlib.util
import pathlib

import pytest

pytest.importorskip("sklearn.datasets")
pytest.importorskip("scipy.ndimage")

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "augmentation_digits.py"
QUICK_FACTS = {"augmentation_draws_new_transforms_each_step",
               "augmentation_is_identity_at_inference"}


def load():
    spec = importlib.util.spec_from_file_location("lamina_example_augmentation", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(facts, expected):
    failed = [name for name, ok in facts.items() if ok is not True]
    assert not failed, f"claims that did not hold: {failed}"
    assert set(facts) == expected, f"facts: {sorted(facts)}"


def test_augmentation_digits_quick(capsys):
    facts, accuracy = load().main(quick=True)
    check(facts, QUICK_FACTS)
    assert set(accuracy) == {"plain", "augmented"}
    printed = capsys.readouterr().out
    for name in accuracy:
        assert f"{accuracy[name]['moved']:8.4f}" in printed


@pytest.mark.slow
def test_augmentation_digits_full_run_helps_on_moved_digits():
    facts, accuracy = load().main()
    check(facts, QUICK_FACTS | {"augmentation_helps_on_moved_digits",
                                "both_learn_the_plain_test_set"})
