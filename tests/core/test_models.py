"""Models: functional (single / list / dict inputs and outputs, shared layers, nesting),
Sequential (Input first, input_shape=, lazy build, add/pop), subclassed models, feature
extraction from `layer.output`, automatic names, get_config, and predict checked against a
numpy forward pass written by hand from `get_weights()`.

Expectations follow Keras 3 (and docs/design.md where it is explicit).
"""
import json

import jax.numpy as jnp
import numpy as np
import pytest

import lamina as lm

Dense = lm.layers.Dense


# -- helpers ---------------------------------------------------------------------------
def _x(n=6, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def _relu(a):
    return np.maximum(a, 0.0)


def _dense(x, kernel, bias=None):
    out = x @ kernel
    return out if bias is None else out + bias


def _mse(t, p):
    return float(np.mean(np.mean((p - t) ** 2, axis=-1)))


def _mae(t, p):
    return float(np.mean(np.mean(np.abs(p - t), axis=-1)))


def _n_variables(model):
    return len(model.weights)


# -- functional: inputs and outputs of every structure ---------------------------------
def test_single_input_single_output_predict_matches_numpy_forward_pass():
    inp = lm.Input((4,))
    hidden = Dense(5, activation="relu", bias_initializer="ones")(inp)
    out = Dense(2)(hidden)
    model = lm.Model(inp, out)
    k1, b1, k2, b2 = model.get_weights()
    assert [w.shape for w in model.get_weights()] == [(4, 5), (5,), (5, 2), (2,)]
    x = _x()
    expected = _dense(_relu(_dense(x, k1, b1)), k2, b2)
    got = model.predict(x, verbose=0)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # a direct call on concrete data computes the same thing
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=1e-5, atol=1e-5)
    # `call` runs inside a call of the model; called directly it says so
    with pytest.raises(lm.errors.UsageError, match=r"call `model(_\d+)?\(inputs\)` instead"):
        model.call(x)


def test_list_inputs_and_list_outputs():
    a = lm.Input((3,), name="a")
    b = lm.Input((2,), name="b")
    merged = lm.layers.Concatenate()([a, b])
    out1 = Dense(1, name="out1")(merged)
    out2 = Dense(2, name="out2")(merged)
    model = lm.Model([a, b], [out1, out2])
    assert model.input_names == ["a", "b"]
    assert model.output_names == ["out1", "out2"]
    xa, xb = _x(5, 3, 1), _x(5, 2, 2)
    p1, p2 = model.predict([xa, xb], verbose=0)
    k1, b1, k2, b2 = model.get_weights()
    xab = np.concatenate([xa, xb], axis=1)
    np.testing.assert_allclose(p1, _dense(xab, k1, b1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(p2, _dense(xab, k2, b2), rtol=1e-5, atol=1e-5)


def test_list_input_model_accepts_a_dict_keyed_by_input_names():
    # Keras 3: a dict whose keys are the input names is matched to list inputs by name
    a = lm.Input((3,), name="a")
    b = lm.Input((2,), name="b")
    model = lm.Model([a, b], Dense(1)(lm.layers.Concatenate()([a, b])))
    xa, xb = _x(5, 3, 1), _x(5, 2, 2)
    from_list = model.predict([xa, xb], verbose=0)
    from_dict = model.predict({"b": xb, "a": xa}, verbose=0)
    np.testing.assert_allclose(from_dict, from_list, rtol=1e-6)


def test_dict_inputs_are_keyed_by_input_names():
    a = lm.Input((3,), name="a")
    b = lm.Input((2,), name="b")
    out = Dense(1)(lm.layers.Concatenate()([a, b]))
    model = lm.Model({"a": a, "b": b}, out)
    xa, xb = _x(5, 3, 1), _x(5, 2, 2)
    k, bias = model.get_weights()
    expected = _dense(np.concatenate([xa, xb], axis=1), k, bias)
    # the order of the keys does not matter
    got = model.predict({"b": xb, "a": xa}, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    model.compile(optimizer="sgd", loss="mse")
    y = np.ones((5, 1), "float32")
    history = model.fit({"a": xa, "b": xb}, y, batch_size=5, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    with pytest.raises(ValueError):
        model.predict({"a": xa}, verbose=0)  # "b" missing


def test_dict_outputs_losses_and_targets_keyed_by_output_names():
    inp = lm.Input((4,))
    hidden = Dense(6, activation="relu")(inp)
    outputs = {"reg": Dense(1)(hidden), "vec": Dense(3)(hidden)}
    model = lm.Model(inp, outputs)
    assert sorted(model.output_names) == ["reg", "vec"]
    model.compile(optimizer="sgd", loss={"reg": "mse", "vec": "mae"},
                  loss_weights={"reg": 2.0, "vec": 0.5})
    x = _x(8, 4)
    y = {"reg": _x(8, 1, 3), "vec": _x(8, 3, 4)}
    pred = model.predict(x, verbose=0)
    assert isinstance(pred, dict) and sorted(pred) == ["reg", "vec"]
    assert pred["reg"].shape == (8, 1) and pred["vec"].shape == (8, 3)
    reg_loss = _mse(y["reg"], pred["reg"])
    vec_loss = _mae(y["vec"], pred["vec"])
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], 2.0 * reg_loss + 0.5 * vec_loss, rtol=1e-5)
    np.testing.assert_allclose(logs["reg_loss"], reg_loss, rtol=1e-5)
    np.testing.assert_allclose(logs["vec_loss"], vec_loss, rtol=1e-5)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert "loss" in history.history


def test_list_outputs_with_loss_weights_total_is_weighted_sum():
    inp = lm.Input((4,))
    out1 = Dense(1, name="first")(inp)
    out2 = Dense(2, name="second")(inp)
    model = lm.Model(inp, [out1, out2])
    model.compile(optimizer="sgd", loss=["mse", "mae"], loss_weights=[0.3, 1.7])
    x = _x(8, 4)
    y1, y2 = _x(8, 1, 5), _x(8, 2, 6)
    p1, p2 = model.predict(x, verbose=0)
    expected = 0.3 * _mse(y1, p1) + 1.7 * _mae(y2, p2)
    total = model.evaluate(x, [y1, y2], batch_size=8, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(total, expected, rtol=1e-5)
    # a batch size that does not divide the data: still the sample mean
    total_batched = model.evaluate(x, [y1, y2], batch_size=3, verbose=0,
                                   return_dict=True)["loss"]
    np.testing.assert_allclose(total_batched, expected, rtol=1e-5)


def test_list_outputs_losses_keyed_by_output_layer_names():
    inp = lm.Input((4,))
    model = lm.Model(inp, [Dense(1, name="first")(inp), Dense(1, name="second")(inp)])
    model.compile(optimizer="sgd", loss={"first": "mse", "second": "mae"},
                  loss_weights={"first": 1.0, "second": 3.0})
    x = _x(8, 4)
    y1, y2 = _x(8, 1, 5), _x(8, 1, 6)
    p1, p2 = model.predict(x, verbose=0)
    total = model.evaluate(x, {"first": y1, "second": y2}, batch_size=8, verbose=0,
                           return_dict=True)["loss"]
    np.testing.assert_allclose(total, _mse(y1, p1) + 3.0 * _mae(y2, p2), rtol=1e-5)


# -- sharing and nesting ---------------------------------------------------------------
def test_layer_called_twice_shares_one_set_of_variables():
    a = lm.Input((3,))
    b = lm.Input((3,))
    shared = Dense(2, name="shared")
    out = lm.layers.Add()([shared(a), shared(b)])
    model = lm.Model([a, b], out)
    assert _n_variables(model) == 2
    assert model.count_params() == 3 * 2 + 2
    assert sum(layer is shared for layer in model.layers) == 1
    assert len(model.trainable_weights) == 2
    xa, xb = _x(4, 3, 1), _x(4, 3, 2)
    k, bias = shared.get_weights()
    expected = _dense(xa, k, bias) + _dense(xb, k, bias)
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), expected, rtol=1e-5,
                               atol=1e-5)
    # training updates the one shared kernel (gradients from both uses add up)
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch([xa, xb], np.ones((4, 2), "float32"))
    assert not np.allclose(shared.get_weights()[0], k)
    assert _n_variables(model) == 2


def test_model_used_as_a_layer_in_another_model_weights_appear_once():
    i = lm.Input((3,))
    inner = lm.Model(i, Dense(4, activation="relu", name="inner_dense")(i), name="inner")
    x = lm.Input((3,))
    h = inner(x)
    out = Dense(1, name="head")(h)
    outer = lm.Model(x, out, name="outer")
    assert isinstance(outer.layers[0], lm.layers.InputLayer)
    assert outer.layers[1] is inner
    assert outer.layers[2].name == "head"
    assert _n_variables(outer) == 4
    assert outer.count_params() == inner.count_params() + 4 + 1
    k1, b1, k2, b2 = outer.get_weights()
    np.testing.assert_array_equal(k1, inner.get_weights()[0])
    xs = _x(5, 3)
    expected = _dense(_relu(_dense(xs, k1, b1)), k2, b2)
    np.testing.assert_allclose(outer.predict(xs, verbose=0), expected, rtol=1e-5, atol=1e-5)
    outer.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    outer.fit(xs, np.ones((5, 1), "float32"), epochs=1, batch_size=5, verbose=0)
    # the inner model's own variables are the ones trained
    assert not np.allclose(inner.get_weights()[0], k1)


def test_nested_model_called_twice_weights_appear_once():
    i = lm.Input((3,))
    inner = lm.Model(i, Dense(2, name="inner_dense")(i), name="inner")
    a = lm.Input((3,))
    b = lm.Input((3,))
    out = lm.layers.Concatenate()([inner(a), inner(b)])
    outer = lm.Model([a, b], out)
    assert _n_variables(outer) == 2
    assert outer.count_params() == inner.count_params() == 3 * 2 + 2
    xa, xb = _x(4, 3, 1), _x(4, 3, 2)
    k, bias = inner.get_weights()
    expected = np.concatenate([_dense(xa, k, bias), _dense(xb, k, bias)], axis=1)
    np.testing.assert_allclose(outer.predict([xa, xb], verbose=0), expected, rtol=1e-5,
                               atol=1e-5)


def test_one_layer_shared_by_two_models():
    shared = Dense(3, activation="relu", name="shared")
    inp1 = lm.Input((4,))
    model1 = lm.Model(inp1, Dense(2)(shared(inp1)))
    inp2 = lm.Input((4,))
    model2 = lm.Model(inp2, Dense(1)(shared(inp2)))
    # Keras: layers[0] is the InputLayer, so the shared layer is layers[1]
    assert isinstance(model1.layers[0], lm.layers.InputLayer)
    assert model1.layers[1] is shared
    assert model2.layers[1] is shared
    assert model1.layers[1].weights[0] is model2.layers[1].weights[0]
    before = shared.get_weights()[0].copy()
    model1.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    model1.fit(_x(8, 4), np.ones((8, 2), "float32"), batch_size=8, epochs=1, verbose=0)
    after = model2.get_weights()[0]
    assert not np.allclose(after, before)
    np.testing.assert_array_equal(after, model1.get_weights()[0])
    # model2 computes with the updated shared kernel
    k, b = shared.get_weights()
    k2, b2 = model2.layers[2].get_weights()
    x = _x(3, 4, 9)
    np.testing.assert_allclose(model2.predict(x, verbose=0),
                               _dense(_relu(_dense(x, k, b)), k2, b2), rtol=1e-5, atol=1e-5)


def test_functional_layers_lists_input_layer_first():
    inp = lm.Input((4,))
    shared = Dense(8)
    model = lm.Model(inp, Dense(1)(shared(inp)))
    assert isinstance(model.layers[0], lm.layers.InputLayer)
    assert model.layers[1] is shared
    assert len(model.layers) == 3
    assert model.get_layer(index=1) is shared
    assert model.get_layer(shared.name) is shared


# -- Sequential ------------------------------------------------------------------------
def test_sequential_with_input_first():
    model = lm.Sequential([lm.Input((4,)), Dense(5, activation="relu"), Dense(2)])
    assert model.built
    assert len(model.layers) == 2
    assert not any(isinstance(layer, lm.layers.InputLayer) for layer in model.layers)
    assert model.count_params() == 4 * 5 + 5 + 5 * 2 + 2
    k1, b1, k2, b2 = model.get_weights()
    x = _x()
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               _dense(_relu(_dense(x, k1, b1)), k2, b2), rtol=1e-5, atol=1e-5)


def test_sequential_with_input_shape_on_first_layer():
    model = lm.Sequential([Dense(5, input_shape=(4,)), Dense(2)])
    assert model.built
    assert len(model.layers) == 2
    assert model.count_params() == 4 * 5 + 5 + 5 * 2 + 2
    assert model.predict(_x(), verbose=0).shape == (6, 2)


def test_sequential_built_lazily_on_first_call():
    model = lm.Sequential([Dense(5), Dense(2)])
    assert not model.built
    assert model.weights == []
    out = model(_x())
    assert out.shape == (6, 2)
    assert model.built
    assert len(model.layers) == 2
    assert model.count_params() == 4 * 5 + 5 + 5 * 2 + 2
    k1, b1, k2, b2 = model.get_weights()
    x = _x(3, 4, 7)
    np.testing.assert_allclose(model.predict(x, verbose=0), _dense(_dense(x, k1, b1), k2, b2),
                               rtol=1e-5, atol=1e-5)


def test_sequential_built_lazily_on_fit():
    model = lm.Sequential([Dense(5, activation="relu"), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = _x(16, 4)
    history = model.fit(x, x.sum(axis=1, keepdims=True), batch_size=8, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.built
    assert model.count_params() == 4 * 5 + 5 + 5 + 1
    assert model.predict(x, verbose=0).shape == (16, 1)


def test_sequential_add_and_pop():
    model = lm.Sequential()
    model.add(lm.Input((4,)))
    model.add(Dense(5))
    model.add(Dense(3))
    assert len(model.layers) == 2
    assert model.predict(_x(), verbose=0).shape == (6, 3)
    popped = model.pop()
    assert isinstance(popped, Dense) and popped.units == 3
    assert len(model.layers) == 1
    assert model.predict(_x(), verbose=0).shape == (6, 5)
    assert model.count_params() == 4 * 5 + 5
    model.add(Dense(2))
    assert model.predict(_x(), verbose=0).shape == (6, 2)
    assert model.count_params() == 4 * 5 + 5 + 5 * 2 + 2


def test_sequential_inside_a_functional_model():
    seq = lm.Sequential([lm.Input((4,)), Dense(5, activation="relu"), Dense(3)])
    inp = lm.Input((4,))
    out = Dense(1)(seq(inp))
    model = lm.Model(inp, out)
    assert model.layers[1] is seq
    assert _n_variables(model) == 6
    assert model.count_params() == seq.count_params() + 3 + 1
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    x = _x()
    expected = _dense(_dense(_relu(_dense(x, k1, b1)), k2, b2), k3, b3)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    model.fit(x, np.ones((6, 1), "float32"), batch_size=6, epochs=1, verbose=0)
    assert not np.allclose(seq.get_weights()[0], k1)


# -- subclassed models -----------------------------------------------------------------
class TwoLayer(lm.Model):
    def __init__(self, hidden=8, **kwargs):
        super().__init__(**kwargs)
        self.hidden = Dense(hidden, activation="relu")
        self.head = Dense(1)

    def call(self, inputs, training=None):
        return self.head(self.hidden(inputs))


class Stack(lm.Model):
    def __init__(self, sizes, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [Dense(n, activation="relu") for n in sizes]
        self.head = Dense(1)

    def call(self, inputs, training=None):
        x = inputs
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def test_subclassed_model_fit_and_weights_discovered():
    model = TwoLayer(hidden=8)
    model.compile(optimizer="adam", loss="mse")
    x = _x(32, 4)
    y = x.sum(axis=1, keepdims=True)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.count_params() == 4 * 8 + 8 + 8 + 1
    assert _n_variables(model) == 4
    assert len(model.trainable_weights) == 4
    k1, b1, k2, b2 = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               _dense(_relu(_dense(x, k1, b1)), k2, b2), rtol=1e-5, atol=1e-5)
    assert model.name == "two_layer"


def test_subclassed_model_with_a_list_of_layers():
    model = Stack([6, 5])
    out = model(_x(3, 4))
    assert out.shape == (3, 1)
    assert _n_variables(model) == 6
    assert model.count_params() == (4 * 6 + 6) + (6 * 5 + 5) + (5 + 1)
    assert model.layers == [*model.blocks, model.head]
    model.compile(optimizer=lm.optimizers.SGD(0.05), loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(_x(16, 4), np.ones((16, 1), "float32"), batch_size=8, epochs=1, verbose=0)
    after = model.get_weights()
    # every layer of the list trains
    assert all(not np.allclose(a, b) for a, b in zip(after[::2], before[::2], strict=True))


def test_subclassed_model_built_by_fit_without_prior_call():
    model = Stack([3])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_x(8, 5), np.zeros((8, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    assert model.count_params() == (5 * 3 + 3) + (3 + 1)


# -- feature extraction from layer outputs ---------------------------------------------
def test_feature_extractor_from_functional_layer_outputs():
    inp = lm.Input((4,))
    h = Dense(5, activation="relu", name="hidden")(inp)
    out = Dense(2, name="logits")(h)
    model = lm.Model(inp, out)
    assert isinstance(model.inputs, list) and len(model.inputs) == 1
    assert model.inputs[0] is inp
    assert isinstance(model.outputs, list) and model.outputs[0] is out
    extractor = lm.Model(model.inputs, model.get_layer("hidden").output)
    assert model.layers[1].output is h
    k1, b1, _, _ = model.get_weights()
    x = _x()
    np.testing.assert_allclose(extractor.predict(x, verbose=0), _relu(_dense(x, k1, b1)),
                               rtol=1e-5, atol=1e-5)
    # the extractor shares the variables of the model it comes from
    assert extractor.weights[0] is model.weights[0]


def test_feature_extractor_from_sequential_keras_recipe():
    # the Keras guide's recipe:
    # Model(inputs=m.inputs, outputs=[layer.output for layer in m.layers])
    model = lm.Sequential([lm.Input((4,)), Dense(5, activation="relu"), Dense(3), Dense(1)])
    assert len(model.inputs) == 1
    extractor = lm.Model(inputs=model.inputs,
                         outputs=[layer.output for layer in model.layers])
    x = _x()
    features = extractor.predict(x, verbose=0)
    assert [f.shape for f in features] == [(6, 5), (6, 3), (6, 1)]
    k1, b1, k2, b2, k3, b3 = model.get_weights()
    f1 = _relu(_dense(x, k1, b1))
    np.testing.assert_allclose(features[0], f1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(features[1], _dense(f1, k2, b2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(features[2], model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    single = lm.Model(model.inputs[0], model.layers[0].output)
    np.testing.assert_allclose(single.predict(x, verbose=0), f1, rtol=1e-5, atol=1e-5)


def test_functional_model_input_and_output_properties():
    # Keras: a single-input / single-output functional model has `model.input` and
    # `model.output` (the tensors it was built from), usable to build a feature extractor
    inp = lm.Input((4,))
    h = Dense(5, activation="relu", name="hidden")(inp)
    out = Dense(2)(h)
    model = lm.Model(inp, out)
    assert model.input is inp
    assert model.output is out
    extractor = lm.Model(model.input, model.get_layer("hidden").output)
    assert extractor.predict(_x(), verbose=0).shape == (6, 5)


def test_sequential_input_and_output_properties():
    model = lm.Sequential([lm.Input((4,)), Dense(5, activation="relu"), Dense(1)])
    assert model.input is model.inputs[0]
    assert model.output is model.layers[-1].output
    extractor = lm.Model(model.input, model.layers[0].output)
    assert extractor.predict(_x(), verbose=0).shape == (6, 5)


# -- names and config ------------------------------------------------------------------
def test_unique_automatic_names():
    names = [Dense(1).name for _ in range(3)]
    assert names == ["dense", "dense_1", "dense_2"]
    assert Dense(1, name="custom").name == "custom"
    assert Dense(1).name == "dense_3"  # an explicit name does not use up a number
    assert lm.Sequential().name == "sequential"
    assert lm.Sequential().name == "sequential_1"
    assert TwoLayer().name == "two_layer"


def test_auto_names_in_a_functional_model_are_distinct():
    inp = lm.Input((4,))
    first, second, third = Dense(2), Dense(3), Dense(1)
    model = lm.Model(inp, third(second(first(inp))))
    names = [layer.name for layer in model.layers]
    assert len(set(names)) == len(names)
    assert names[1:] == ["dense", "dense_1", "dense_2"]


def _entry_name(entry):
    return entry["name"] if isinstance(entry, dict) else entry


def test_functional_get_config():
    inp = lm.Input((4,), name="features")
    out = Dense(2, name="head")(Dense(3, name="body")(inp))
    model = lm.Model(inp, out, name="net")
    config = model.get_config()
    assert config["name"] == "net"
    json.dumps(config)  # plain JSON data
    assert [_entry_name(e) for e in config["layers"]] == ["features", "body", "head"]


def test_functional_config_round_trip():
    # Keras 3: Model.from_config(model.get_config()) rebuilds the same architecture
    inp = lm.Input((4,), name="features")
    out = Dense(2, activation="relu", name="head")(Dense(3, name="body")(inp))
    model = lm.Model(inp, out, name="net")
    clone = lm.Model.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.name == "net"
    assert [layer.name for layer in clone.layers] == ["features", "body", "head"]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    clone.set_weights(model.get_weights())
    x = _x()
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_sequential_config_round_trip():
    model = lm.Sequential([lm.Input((4,)), Dense(3, activation="relu"), Dense(1)], name="seq")
    config = model.get_config()
    assert config["name"] == "seq"
    json.dumps(config)
    clone = lm.Sequential.from_config(json.loads(json.dumps(config)))
    assert [type(layer) for layer in clone.layers] == [Dense, Dense]
    assert [layer.units for layer in clone.layers] == [3, 1]
    clone.set_weights(model.get_weights())
    x = _x()
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


# -- predicting on various array types -------------------------------------------------
def test_predict_accepts_jax_arrays_and_batches():
    inp = lm.Input((4,))
    model = lm.Model(inp, Dense(2)(inp))
    x = _x(10, 4)
    k, b = model.get_weights()
    got = model.predict(jnp.asarray(x), batch_size=3, verbose=0)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, _dense(x, k, b), rtol=1e-5, atol=1e-5)


def test_unknown_non_batch_dimensions_stay_unknown_in_symbolic_shapes():
    x = lm.Input((None, 4))
    assert lm.layers.Dense(3)(x).shape == (None, None, 3)
    assert lm.layers.Flatten()(lm.Input((None, 2, 3))).shape == (None, None)
    assert lm.layers.Reshape((-1, 2))(lm.Input((6,))).shape == (None, 3, 2)
    model = lm.Model(x, lm.layers.Dense(3)(x))
    assert model(np.ones((2, 5, 4), np.float32)).shape == (2, 5, 3)
