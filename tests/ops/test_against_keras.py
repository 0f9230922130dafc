"""Every op of `lamina.ops` against `keras.ops` on the same inputs: values (float32
tolerance) and dtypes equal, for float and int inputs where Keras's dtype rules matter.

The tables (name -> cases) live in cases_numpy.py, cases_nn.py and cases_more.py; an op
with no case here is covered in test_core_ops.py (functions as arguments, random values,
unspecified values). One test per op; the fast stage runs a representative 19 (the ops
whose dtype rules and layouts matter most), tests/slow_tests.txt sends the other 320 to the
slow stage (about 3 minutes with a warm compilation cache on the 2-core machine).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import pytest  # noqa: E402

from lamina import ops  # noqa: E402
from tests.ops import cases_more, cases_nn, cases_numpy  # noqa: E402
from tests.ops.compare import run_cases  # noqa: E402
from tests.ops.test_core_ops import COVERED_HERE  # noqa: E402

TABLES = {"numpy": cases_numpy.CASES, "nn": cases_nn.CASES, "math": cases_more.MATH,
          "linalg": cases_more.LINALG, "core": cases_more.CORE, "image": cases_more.IMAGE}
CASES = [(family, name) for family, table in TABLES.items() for name in sorted(table)
         if table[name]]
# decompositions and spectral transforms: float32 round-off differs between the orders of
# operations; everything else must agree to float32 precision
LOOSE = {"linalg", "math", "image"}


@pytest.mark.parametrize(("family", "name"), CASES, ids=[f"{f}.{n}" for f, n in CASES])
def test_op_matches_keras(family, name):
    keras_ops, lamina_ops = ((keras.ops.image, ops.image) if family == "image"
                             else (keras.ops, ops))
    tolerance = (1e-4, 1e-5) if family in LOOSE else (1e-5, 1e-6)
    run_cases(keras_ops, lamina_ops, name, TABLES[family][name], *tolerance)


def test_every_keras_name_has_a_case_or_a_test_in_test_core_ops():
    """No op goes unchecked: each name is in a table or in test_core_ops.py's list."""
    tabled = {name for _, name in CASES}
    names = {n for n in dir(keras.ops) if not n.startswith("_")} | {
        n for n in dir(keras.ops.image) if not n.startswith("_")}
    names -= {"image", "linalg", "nn", "numpy"}
    assert sorted(names - tabled - COVERED_HERE) == []
