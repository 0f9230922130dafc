"""The text classifier example (examples/text_classifier.py): fit on raw strings, predict,
save and load, with every claim it prints checked (slow stage: it trains a model)."""
import importlib.util
import pathlib

import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "text_classifier.py"
FACTS = {"learns_topics", "vocabulary_has_topic_words", "queries_classified",
         "loaded_predicts_the_same"}


@pytest.mark.slow
def test_text_classifier_example_learns_saves_and_reloads():
    spec = importlib.util.spec_from_file_location("lamina_example_text", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    facts = module.main(quick=False)
    assert set(facts) == FACTS
    assert [name for name, ok in facts.items() if ok is not True] == []
