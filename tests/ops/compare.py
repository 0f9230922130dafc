"""Run one op in `keras.ops` and in `lamina.ops` on the same inputs and compare the results:
the same structure, the same dtypes (as Keras names them), values to float32 tolerance."""
import jax
import numpy as np


def leaves(result):
    return jax.tree.leaves(result, is_leaf=lambda x: x is None)


def assert_same(name, keras_result, lamina_result, rtol=1e-5, atol=1e-6):
    expected, got = leaves(keras_result), leaves(lamina_result)
    assert len(expected) == len(got), f"{name}: {len(got)} outputs, Keras gives {len(expected)}"
    for k, mine in zip(expected, got, strict=True):
        if isinstance(k, (bool, int, float, str, tuple)) or k is None:
            assert mine == k, f"{name}: {mine!r} != Keras's {k!r}"
            continue
        assert str(np.asarray(mine).dtype) == str(np.asarray(k).dtype), (
            f"{name}: dtype {np.asarray(mine).dtype}, Keras gives {np.asarray(k).dtype}")
        np.testing.assert_allclose(np.asarray(mine, dtype=np.asarray(k).dtype),
                                   np.asarray(k), rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=name)


def run_cases(keras_ops, lamina_ops, name, cases, rtol=1e-5, atol=1e-6):
    keras_fn, lamina_fn = getattr(keras_ops, name), getattr(lamina_ops, name)
    for args, kwargs in cases:
        expected = keras_fn(*args, **kwargs)
        got = lamina_fn(*args, **kwargs)
        assert_same(f"{name}(*{len(args)} args, {sorted(kwargs)})", expected, got, rtol, atol)
