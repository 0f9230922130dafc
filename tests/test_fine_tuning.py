"""Issue 6's freezing toolkit: explain reports against hand-derived expectations, the
model-independent layer view, freeze_up_to, and freeze schedules inside one fit."""
import numpy as np
import pytest

import lamina as lm
from lamina.callbacks import Callback, FreezeSchedule, GradualUnfreezing


def _shared_pair():
    shared = lm.layers.Dense(3, name="shared")
    in1, in2 = lm.Input((4,), name="in1"), lm.Input((4,), name="in2")
    model1 = lm.Model(in1, lm.layers.Dense(1, name="head1")(shared(in1)), name="model1")
    model2 = lm.Model(in2, lm.layers.Dense(2, name="head2")(shared(in2)), name="model2")
    return shared, model1, model2


def test_explain_marks_shared_layers_and_names_the_scoped_freeze():
    shared, model1, model2 = _shared_pair()
    model1.freeze(shared)
    report = model1.explain()
    row = report.why("shared/kernel")
    assert row.trained is False
    assert row.reasons == ("path model1 > shared: 'model1' froze 'shared' in its scope "
                           "(model1.freeze)",)
    assert row.shared_with == ("model2",)
    assert report.why("head1/kernel").shared_with == ()
    assert model2.explain().why("shared/kernel").trained is True
    assert model2.explain().why("shared/kernel").shared_with == ("model1",)
    text = str(report)
    assert "  model1 > shared  [shared with: model2]\n    kernel" in text
    assert "trained: 4 params; frozen: 15 params" in text
    data = report.as_dict()
    assert data["trained_params"] == 4 and data["frozen_params"] == 15
    assert data["variables"][0] == {
        "variable": "shared/kernel", "layer_path": "model1 > shared", "trained": False,
        "reasons": ["path model1 > shared: 'model1' froze 'shared' in its scope (model1.freeze)"],
        "shared_with": ["model2"], "updated_by": "", "shape": [4, 3]}


def test_explain_expands_nested_models_and_names_the_closing_flag():
    inner_in = lm.Input((4,))
    inner = lm.Model(inner_in, lm.layers.Dense(3, name="d_in")(inner_in), name="inner")
    outer_in = lm.Input((4,))
    outer = lm.Model(outer_in, lm.layers.Dense(1, name="d_out")(inner(outer_in)), name="outer")
    inner.trainable = False
    row = outer.explain().why("d_in/kernel")
    assert row.path == "outer > inner > d_in"
    assert row.reasons == ("path outer > inner > d_in: 'inner.trainable' is False",)
    # the inner model is part of this report, not an "other" holder
    assert row.shared_with == ()
    assert outer.explain().why("d_out/bias").trained is True


def test_explain_layer_answers_which_models_train_a_layer():
    shared, model1, model2 = _shared_pair()
    model1.freeze(shared)
    report = lm.explain_layer(shared)
    assert [v.model.name for v in report] == ["model1", "model2"]
    assert report.verdict("model1").trains_layer is False
    assert report.verdict(model2).trains_layer is True
    assert report.verdict("model1").reasons["shared/kernel"] == (
        "path model1 > shared: 'model1' froze 'shared' in its scope (model1.freeze)",)
    text = str(report)
    assert "Layer 'shared' (trainable=True) is held by 2 model(s):" in text
    assert "  model1: does not train it" in text and "  model2: trains it" in text
    shared.trainable = False
    assert not any(v.trains_layer for v in lm.explain_layer(shared))
    with pytest.raises(KeyError, match="is not in model 'nope'"):
        report.verdict("nope")


def _stack(n=4, seed=0):
    lm.reset_names()
    lm.random.set_seed(seed)
    return lm.Sequential([lm.Input((5,))] + [lm.layers.Dense(5, activation="tanh")
                                             for _ in range(n - 1)] + [lm.layers.Dense(1)])


def _trained_layers(model):
    owners = []
    for v in model.trainable_weights:
        if v.owner.name not in owners:
            owners.append(v.owner.name)
    return owners


def test_freeze_up_to_moves_a_scoped_boundary_and_never_writes_flags():
    model = _stack()
    d0, d1, d2, d3 = model.layers
    assert model.freeze_up_to(d1) == [d0, d1]
    assert _trained_layers(model) == ["dense_2", "dense_3"]
    assert all(layer.trainable for layer in model.layers)
    d3.trainable = False  # a flag the user set elsewhere stays
    model.freeze_up_to("dense")
    assert _trained_layers(model) == ["dense_1", "dense_2"]
    model.freeze_up_to(0, inclusive=False)
    assert _trained_layers(model) == ["dense", "dense_1", "dense_2"]
    assert model.frozen_layers == [] and d3.trainable is False
    with pytest.raises(ValueError, match="index 7 is out of range for its 4 layers"):
        model.freeze_up_to(7)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    return x, np.sin(x.sum(axis=1, keepdims=True)).astype(np.float32)


def test_a_freeze_schedule_equals_the_hand_driven_sequence_of_fits(capsys):
    x, y = _data()
    fit = dict(batch_size=8, shuffle=False, verbose=0)
    scheduled = _stack()
    scheduled.compile(lm.optimizers.Adam(0.01), "mse")
    layers = scheduled.layers
    schedule = FreezeSchedule({0: {"freeze_up_to": 1}, 2: {"unfreeze": [layers[1]]},
                               3: {"unfreeze": ["dense"]}})
    scheduled.fit(x, y, epochs=5, callbacks=[schedule], **fit)
    out = capsys.readouterr().out
    assert "Epoch 1: froze up to ['dense_1'] (trainable params 96 -> 36)" in out
    assert "Epoch 3: unfroze dense_1 (trainable params 36 -> 66)" in out
    assert "Epoch 4: unfroze dense (trainable params 66 -> 96)" in out

    by_hand = _stack()
    by_hand.compile(lm.optimizers.Adam(0.01), "mse")
    by_hand.freeze_up_to(1)
    by_hand.fit(x, y, epochs=2, **fit)
    by_hand.unfreeze(by_hand.layers[1])
    by_hand.fit(x, y, epochs=3, initial_epoch=2, **fit)
    by_hand.unfreeze("dense")
    by_hand.fit(x, y, epochs=5, initial_epoch=3, **fit)
    for a, b in zip(scheduled.get_weights(), by_hand.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


class Snapshots(Callback):
    def __init__(self):
        super().__init__()
        self.weights = [None]

    def on_train_begin(self, logs=None):
        self.weights = [self.model.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_gradual_unfreezing_releases_one_group_per_epoch_from_the_top():
    x, y = _data()
    model = _stack()
    model.compile(lm.optimizers.SGD(0.05), "mse")
    d0, d1, d2, _ = model.layers
    snaps = Snapshots()
    model.fit(x, y, epochs=4, batch_size=8, verbose=0,
              callbacks=[GradualUnfreezing([[d0], [d1], [d2]], verbose=0), snaps])
    # weights index: 2 per Dense (kernel, bias); group k changes first in epoch k's snapshot
    changed = [[not np.array_equal(snaps.weights[e][i], snaps.weights[e + 1][i])
                for i in (0, 2, 4, 6)] for e in range(4)]
    assert changed == [[False, False, False, True],
                       [False, False, True, True],
                       [False, True, True, True],
                       [True, True, True, True]]


def test_schedules_reject_bad_plans():
    with pytest.raises(lm.ConfigurationError, match="unknown keys \\['thaw'\\]"):
        FreezeSchedule({1: {"thaw": []}})
    with pytest.raises(lm.ConfigurationError, match="epochs must be non-negative integers"):
        FreezeSchedule({-1: {"freeze": []}})
    with pytest.raises(lm.ConfigurationError, match="at least one group"):
        GradualUnfreezing([])
