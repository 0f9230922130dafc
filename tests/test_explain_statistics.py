"""explain() and BatchNormalization's moving statistics (issue 17 item 8).

The statistics are not trained by gradients but a training step's forward pass updates them
while the layer runs in training mode; explain() must say that, and call them frozen only
when a closed path puts the layer in inference mode (rule 7). Each verdict is checked by
training one step and watching the statistics change or stay bitwise equal.
"""
import numpy as np
import pytest

import lamina as lm


def _model(train_when_frozen=False):
    lm.reset_names()
    lm.random.set_seed(0)
    model = lm.Sequential([lm.Input((3,)), lm.layers.Dense(2),
                           lm.layers.BatchNormalization(train_when_frozen=train_when_frozen)])
    model.compile("sgd", "mse")
    return model


def _statistics(model):
    bn = model.layers[-1]
    return [np.asarray(bn.moving_mean.value).copy(), np.asarray(bn.moving_variance.value).copy()]


@pytest.mark.parametrize("freeze, train_when_frozen, expected", [
    (False, False, "forward pass"), (True, False, ""), (True, True, "forward pass")])
def test_explain_says_what_updates_the_moving_statistics(freeze, train_when_frozen, expected):
    model = _model(train_when_frozen)
    if freeze:
        model.freeze(model.layers[-1])
    report = model.explain()
    rows = [report.why(f"batch_normalization/{name}")
            for name in ("moving_mean", "moving_variance")]
    assert [r.updated_by for r in rows] == [expected] * 2
    assert not any(r.trained for r in rows)
    text = str(report)
    if expected:
        assert "moving_mean                                   2  updated by the forward pass" \
            in text
        assert "gradients never do" in rows[0].reasons[0]
        assert report.as_dict()["forward_pass_params"] == 4
    else:
        assert "inference mode" in rows[0].reasons[0] and "sequential.freeze" in rows[0].reasons[0]
        assert report.as_dict()["forward_pass_params"] == 0
    before = _statistics(model)
    rng = np.random.default_rng(1)
    model.train_on_batch(rng.normal(size=(8, 3)).astype("float32"),
                         rng.normal(size=(8, 2)).astype("float32"))
    after = _statistics(model)
    changed = [not np.array_equal(a, b) for a, b in zip(before, after, strict=True)]
    assert changed == [bool(expected)] * 2
    # the counts agree with the resolution that summary() and trainable_weights read
    data = report.as_dict()
    assert data["trained_params"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert data["forward_pass_params"] + data["frozen_params"] == sum(
        int(np.prod(w.shape)) for w in model.non_trainable_weights)


def _transfer_model(call_training, freeze_base=False, bn_training=None):
    """outer(x) = Dense(base(x, training=call_training)), base = Input > Dense > BN."""
    lm.reset_names()
    lm.random.set_seed(0)
    inner_in = lm.Input((3,))
    hidden = lm.layers.Dense(2)(inner_in)
    bn = lm.layers.BatchNormalization()
    base = lm.Model(inner_in, bn(hidden) if bn_training is None
                    else bn(hidden, training=bn_training), name="base")
    base.trainable = not freeze_base
    x = lm.Input((3,))
    features = base(x) if call_training is None else base(x, training=call_training)
    outer = lm.Model(x, lm.layers.Dense(1)(features), name="outer")
    outer.compile("sgd", "mse")
    return outer, bn


@pytest.mark.parametrize("call_training, freeze_base, bn_training, expected", [
    (None, False, None, "forward pass"),  # the base runs in training mode
    (False, False, None, ""),  # base(x, training=False): inference mode, statistics kept
    (False, True, None, ""),
    (None, True, True, "forward pass"),  # bn(h, training=True) inside a frozen base
])
def test_explain_reads_the_training_argument_recorded_in_the_graph(
        call_training, freeze_base, bn_training, expected):
    outer, bn = _transfer_model(call_training, freeze_base, bn_training)
    rows = [outer.explain().why(f"{bn.name}/{name}") for name in ("moving_mean",
                                                                     "moving_variance")]
    assert [r.updated_by for r in rows] == [expected] * 2
    if call_training is False:
        assert "calls 'base' in 'outer' with training=False" in rows[0].reasons[0]
    before = [np.asarray(bn.moving_mean.value).copy(), np.asarray(bn.moving_variance.value).copy()]
    rng = np.random.default_rng(2)
    outer.train_on_batch(rng.normal(size=(8, 3)).astype("float32"),
                         rng.normal(size=(8, 1)).astype("float32"))
    after = [np.asarray(bn.moving_mean.value), np.asarray(bn.moving_variance.value)]
    assert [not np.array_equal(a, b) for a, b in zip(before, after, strict=True)] == \
        [bool(expected)] * 2
