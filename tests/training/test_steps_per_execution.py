"""steps_per_execution: K train steps in one jitted `lax.scan` call (Trainer.train_steps).

The reference is K separate `train_step` calls on an identical model (same seed): the
weights, optimizer state, moving statistics, dropout seed states and per-batch logs must
agree. On CPU the scan runs the same XLA computations, so we ask for a tight tolerance
(rtol 1e-6) rather than bit equality, which fusion across the scan body does not promise.
"""
import numpy as np
import pytest

import lamina as lm
from lamina.training.step import stack_batches
from lamina.training.trainer import Trainer

RTOL, ATOL = 1e-6, 1e-7


def _model(seed=3):
    lm.random.set_seed(seed)
    inp = lm.Input((6,))
    h = lm.layers.Dense(8, activation="relu", name="hidden")(inp)
    h = lm.layers.BatchNormalization(name="bn")(h)
    h = lm.layers.Dropout(0.25, name="drop")(h)
    out = lm.layers.Dense(3, activation="softmax", name="head")(h)
    model = lm.Model(inp, out)
    model.compile(lm.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _batches(k, n=16, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(n, 6)).astype("float32"),
             [rng.integers(0, 3, size=(n,)).astype("int32")], None) for _ in range(k)]


def _all_state(model):
    """Every variable (seed states included) and the optimizer leaves, as numpy."""
    import jax

    variables = [np.asarray(v.value) for v in model._trainer.resolution().variables]
    return variables + [np.asarray(a) for a in jax.tree_util.tree_leaves(
        model._trainer.opt_state)]


def _assert_close(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=RTOL, atol=ATOL)


def test_one_scan_call_equals_k_single_steps_weights_state_and_logs():
    batches = _batches(5)
    single, grouped = _model(), _model()
    single_logs = [single._trainer.train_step(*b) for b in batches]
    logs = grouped._trainer.train_steps(*stack_batches(batches))
    _assert_close(_all_state(single), _all_state(grouped))
    assert [np.shape(v) for v in logs] == [(5,), (5,)]  # loss and accuracy, per batch
    for i, step_logs in enumerate(single_logs):
        np.testing.assert_allclose([float(v[i]) for v in logs],
                                   [float(v) for v in step_logs], rtol=RTOL, atol=ATOL)
    assert grouped._trainer.iterations == single._trainer.iterations == 5


def test_partial_last_group_and_reset_metrics():
    batches = _batches(7)
    single, grouped = _model(), _model()
    for i, b in enumerate(batches):
        last = single._trainer.train_step(*b, reset_metrics=(i == 0))
    grouped._trainer.train_steps(*stack_batches(batches[:4]), reset_metrics=True)
    logs = grouped._trainer.train_steps(*stack_batches(batches[4:]))  # a smaller scan
    _assert_close(_all_state(single), _all_state(grouped))
    np.testing.assert_allclose([float(v[-1]) for v in logs], [float(v) for v in last],
                               rtol=RTOL, atol=ATOL)


def test_frozen_layer_is_bitwise_unchanged_and_live_freezing_applies_to_the_next_group():
    batches = _batches(6)
    model = _model()
    hidden = model.get_layer("hidden")
    hidden.trainable = False
    before = [np.asarray(w).copy() for w in hidden.get_weights()]
    model._trainer.train_steps(*stack_batches(batches[:3]))
    after = hidden.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    # unfreezing between groups takes effect at the next call (docs/design.md rule 5)
    reference = _model()
    reference.get_layer("hidden").trainable = False
    for b in batches[:3]:
        reference._trainer.train_step(*b)
    reference.get_layer("hidden").trainable = True
    for b in batches[3:]:
        reference._trainer.train_step(*b)
    hidden.trainable = True
    model._trainer.train_steps(*stack_batches(batches[3:]))
    assert not np.array_equal(hidden.get_weights()[0], before[0])
    _assert_close(_all_state(reference), _all_state(model))


def test_a_group_compiles_once_per_configuration():
    model = _model()
    batches = _batches(8)
    for i in range(0, 8, 4):
        model._trainer.train_steps(*stack_batches(batches[i:i + 4]))
    assert len(model._trainer.compiled_steps("multi")) == 1


def test_sample_weights_are_stacked_and_used():
    rng = np.random.default_rng(1)
    batches = [(x, y, rng.uniform(size=(16,)).astype("float32")) for x, y, _ in _batches(3)]
    single, grouped = _model(), _model()
    for b in batches:
        single._trainer.train_step(*b)
    grouped._trainer.train_steps(*stack_batches(batches))
    _assert_close(_all_state(single), _all_state(grouped))


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "8"])
def test_bad_steps_per_execution_is_refused(value):
    model = lm.Sequential([lm.Input((2,)), lm.layers.Dense(1)], name="tiny")
    with pytest.raises(lm.ConfigurationError,
                       match=r"'tiny'.compile\(steps_per_execution=...\): expected a positive "
                             r"integer .* received"):
        Trainer(model, "sgd", "mse", None, None, steps_per_execution=value)


def test_steps_per_execution_is_stored_on_the_trainer():
    model = lm.Sequential([lm.Input((2,)), lm.layers.Dense(1)])
    assert Trainer(model, "sgd", "mse", None, None, steps_per_execution=8).steps_per_execution == 8
    assert Trainer(model, "sgd", "mse", None, None).steps_per_execution == 1
