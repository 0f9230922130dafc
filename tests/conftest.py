"""Shared test set-up: reproducible initialisation and fresh auto names per test."""
import pytest

import lamina as lm


@pytest.fixture(autouse=True)
def _fresh_names_and_seed():
    lm.reset_names()
    lm.random.set_seed(0)
    yield
    lm.mixed_precision.set_global_policy(None)
