"""`lamina.ops` has every public name of `keras.ops` and of each of its sub-namespaces
(numpy, nn, linalg, image), plus `math` and `core` with the names of Keras's
`keras.src.ops.math` / `keras.src.ops.core` modules; the exclusion list (documented in the
`lamina.ops` docstring and docs/ops.md) is empty."""
import inspect
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import pytest  # noqa: E402
from keras.src.ops import core as keras_core  # noqa: E402
from keras.src.ops import math as keras_math  # noqa: E402

from lamina import ops  # noqa: E402

EXCLUDED = set()  # names of keras.ops that lamina.ops leaves out, each with its reason


def public(namespace):
    return {name for name in dir(namespace) if not name.startswith("_")}


def exported(module):
    """The names a Keras source module exports to `keras.ops`."""
    return {name for name in public(module) if getattr(keras.ops, name, None) is getattr(
        module, name) and callable(getattr(module, name))}


@pytest.mark.parametrize("sub", [None, "numpy", "nn", "linalg", "image"])
def test_every_keras_ops_name_is_present(sub):
    theirs = public(keras.ops if sub is None else getattr(keras.ops, sub))
    mine = public(ops if sub is None else getattr(ops, sub))
    assert sorted(theirs - mine - EXCLUDED) == []


def test_keras_ops_has_341_names_and_the_exclusions_are_documented():
    assert len(public(keras.ops)) == 341
    assert "Excluded names: none." in ops.__doc__ and not EXCLUDED


@pytest.mark.parametrize(("mine", "theirs"), [(ops.math, keras_math), (ops.core, keras_core)])
def test_math_and_core_mirror_keras_modules(mine, theirs):
    assert sorted(exported(theirs) - public(mine)) == []


def test_signatures_match_keras():
    """Same parameter names, kinds and defaults for every op (the arguments Keras users
    pass by keyword must work)."""
    mismatched = []
    for namespace, keras_namespace in [(ops, keras.ops), (ops.image, keras.ops.image)]:
        for name in public(keras_namespace) - {"image", "linalg", "nn", "numpy"}:
            theirs = inspect.signature(getattr(keras_namespace, name))
            mine = inspect.signature(getattr(namespace, name))
            if [(p.name, p.kind, p.default) for p in mine.parameters.values()] != [
                    (p.name, p.kind, p.default) for p in theirs.parameters.values()]:
                mismatched.append(f"{name}{mine} != keras {theirs}")
    assert mismatched == []
