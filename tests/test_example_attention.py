"""The attention example (examples/attention_sequences.py): a quick smoke run of every claim,
and the full run (marked slow) that must learn the task to the accuracy its docstring states."""
import importlib.util
import pathlib

import pytest

EXAMPLE = (pathlib.Path(__file__).resolve().parent.parent / "examples"
           / "attention_sequences.py")

QUICK_FACTS = {"embedding_masks_padding", "loss_is_finite", "padding_invariant",
               "order_only_through_causal_mask"}


def _main(quick):
    spec = importlib.util.spec_from_file_location("lamina_example_attention", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(quick=quick)


def _check(facts, expected):
    failed = [name for name, ok in facts.items() if ok is not True]
    assert not failed, f"claims that did not hold: {failed}"
    assert set(facts) == expected, f"facts: {sorted(facts)}"


def test_attention_example_quick():
    _check(_main(quick=True), QUICK_FACTS)


@pytest.mark.slow
def test_attention_example_learns_the_order():
    # the docstring states 1.00 held-out accuracy after 6 epochs; the claim checked is > 0.95
    _check(_main(quick=False), QUICK_FACTS | {"learns_order"})
