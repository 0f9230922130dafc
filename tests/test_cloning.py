"""`lamina.models.clone_model` against `keras.models.clone_model`: which layers the clone
function sees, new weights with the same config, shared layers cloned once, call_function,
recursive cloning, input tensors, subclassed models; and how trainability carries over
(layer and model flags, variable flags, scoped freezes: docs/utils.md)."""
import keras
import numpy as np
import pytest

import lamina as lm


def _functional(lib):
    inp = lib.Input((4,), name="x")
    shared = lib.layers.Dense(4, name="shared")
    inner = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, name="inner_dense")],
                           name="inner")
    h = shared(shared(inp))
    out = lib.layers.Dense(1, name="head")(lib.layers.concatenate([inner(h), h], name="cat"))
    return lib.Model(inp, out, name="net")


def _seen_by_clone_function(lib, model, **kwargs):
    seen = []

    def clone(layer):
        seen.append((type(layer).__name__, layer.name))
        return type(layer).from_config(layer.get_config())

    return lib.models.clone_model(model, clone_function=clone, **kwargs), seen


@pytest.mark.parametrize("recursive", [False, True])
def test_the_clone_function_sees_the_layers_keras_shows_it(recursive):
    ours, seen_ours = _seen_by_clone_function(lm, _functional(lm), recursive=recursive)
    theirs, seen_theirs = _seen_by_clone_function(keras, _functional(keras),
                                                  recursive=recursive)
    assert seen_ours == seen_theirs
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]


def test_a_functional_clone_has_new_weights_the_same_config_and_shared_layers():
    model = _functional(lm)
    clone = lm.models.clone_model(model)
    assert clone is not model and clone.name == model.name
    assert [type(a) for a in clone.layers] == [type(b) for b in model.layers]
    assert len(clone.weights) == len(model.weights)
    assert all(a is not b for a, b in zip(clone.weights, model.weights, strict=True))
    kernels = [(a, b) for a, b in zip(clone.get_weights(), model.get_weights(), strict=True)
               if a.ndim == 2]
    assert all(not np.allclose(a, b) for a, b in kernels)  # freshly initialised
    clone.set_weights(model.get_weights())
    x = np.random.RandomState(0).rand(3, 4).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    shared = clone.get_layer("shared")
    assert len(shared._inbound_nodes) == 2  # one layer, called twice, as in the original


def test_call_function_and_input_tensors():
    model = _functional(lm)
    calls = []

    def call(layer, *args, **kwargs):
        calls.append(layer.name)
        return layer(*args, **kwargs)

    new_input = lm.Input((4,), name="fresh")
    clone = lm.models.clone_model(model, input_tensors=new_input, call_function=call)
    assert calls == ["shared", "shared", "inner", "cat", "head"]
    assert clone.layers[0].name == "fresh"
    seq = lm.Sequential([lm.Input((2,)), lm.layers.Dense(3)])
    seq_clone = lm.models.clone_model(seq, input_tensors=[lm.Input((2,), name="given")])
    assert seq_clone.input.node.layer.name == "given" and seq_clone.output.shape == (None, 3)
    with pytest.raises(lm.ConfigurationError, match="call_function"):
        lm.models.clone_model(seq, call_function=call)
    with pytest.raises(lm.ConfigurationError, match="one input"):
        lm.models.clone_model(seq, input_tensors=[new_input, new_input])


def test_clone_function_may_share_layers_with_the_original():
    seq = lm.Sequential([lm.Input((2,)), lm.layers.Dense(3, name="keep"),
                         lm.layers.Dense(1, name="new")])
    clone = lm.models.clone_model(
        seq, clone_function=lambda layer: layer if layer.name == "keep" else
        type(layer).from_config(layer.get_config()))
    assert clone.layers[0] is seq.layers[0] and clone.layers[1] is not seq.layers[1]


def test_trainability_carries_over():
    inp = lm.Input((3,))
    frozen_flag = lm.layers.Dense(3, name="flagged", trainable=False)
    scoped = lm.layers.Dense(3, name="scoped")
    head = lm.layers.Dense(1, name="head")
    model = lm.Model(inp, head(scoped(frozen_flag(inp))), name="m")
    model.freeze(scoped)
    head.bias.trainable = False
    model.trainable = False
    clone = lm.models.clone_model(model)
    assert clone.trainable is False
    assert clone.get_layer("flagged").trainable is False
    assert [layer.name for layer in clone.frozen_layers] == ["scoped"]
    assert clone.frozen_layers[0] is clone.get_layer("scoped")
    assert clone.get_layer("head").bias.trainable is False
    assert clone.get_layer("head").kernel.trainable is True
    model.trainable = clone.trainable = True
    assert [v.path for v in clone.trainable_weights] == ["head/kernel"]
    assert [v.path for v in model.trainable_weights] == ["head/kernel"]


def test_a_sequential_clone_keeps_flags_and_is_not_compiled():
    seq = lm.Sequential([lm.Input((2,)), lm.layers.Dense(2, trainable=False),
                         lm.layers.Dense(1)], name="s", trainable=False)
    seq.compile("sgd", "mse")
    clone = lm.models.clone_model(seq)
    assert clone.name == "s" and clone.trainable is False and not clone.compiled
    assert [layer.trainable for layer in clone.layers] == [False, True]


@lm.saving.register_serializable()
class _Sub(lm.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = lm.layers.Dense(units)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_subclassed_model_is_cloned_from_its_config_as_keras_does():
    model = _Sub(units=5, name="sub")
    model(np.ones((1, 3), "float32"))
    clone = lm.models.clone_model(model)
    assert type(clone) is _Sub and clone.units == 5 and clone.name == "sub"
    assert clone(np.ones((1, 3), "float32")).shape == (1, 5)
    with pytest.raises(lm.ConfigurationError, match="subclassed"):
        lm.models.clone_model(model, clone_function=lambda layer: layer)
    with pytest.raises(lm.ConfigurationError, match="unexpected keyword"):
        lm.models.clone_model(model, something=1)
