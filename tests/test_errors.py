"""Bad input gives errors that name the layer or model and say what was expected and received."""
import numpy as np
import pytest

import lamina as lm


def _model(name="net", dtype=None, dim=3):
    inp = lm.Input((dim,), dtype=dtype, name="features")
    out = lm.layers.Dense(2, name="head")(inp)
    return lm.Model(inp, out, name=name)


# -- functional model inputs ------------------------------------------------------------
@pytest.mark.parametrize("call", ["call", "predict", "predict_on_batch"])
def test_wrong_last_dimension_names_model_and_both_shapes(call):
    model = _model()
    x = np.ones((4, 5), np.float32)
    with pytest.raises(lm.InputSpecError) as info:
        if call == "call":
            model(x)
        elif call == "predict":
            model.predict(x, verbose=0)
        else:
            model.predict_on_batch(x)
    message = str(info.value)
    assert "net" in message
    assert "(None, 3)" in message
    assert "(4, 5)" in message


@pytest.mark.parametrize("shape", [(4, 3, 1), (3,)], ids=["rank-3", "rank-1"])
def test_wrong_rank_names_model_and_both_shapes(shape):
    model = _model()
    with pytest.raises(lm.InputSpecError) as info:
        model.predict(np.ones(shape, np.float32), verbose=0)
    message = str(info.value)
    assert "net" in message
    assert "(None, 3)" in message
    assert str(shape) in message


def test_wrong_shape_in_fit_and_evaluate():
    model = _model()
    model.compile("sgd", "mse")
    x, y = np.ones((4, 5), np.float32), np.ones((4, 2), np.float32)
    with pytest.raises(lm.InputSpecError, match=r"\(None, 3\)"):
        model.fit(x, y, verbose=0)
    with pytest.raises(lm.InputSpecError, match=r"\(None, 3\)"):
        model.evaluate(x, y, verbose=0)
    with pytest.raises(lm.InputSpecError, match=r"\(None, 3\)"):
        model.train_on_batch(x, y)


def test_wrong_number_of_inputs():
    a, b = lm.Input((2,), name="a"), lm.Input((3,), name="b")
    model = lm.Model([a, b], lm.layers.Concatenate()([a, b]), name="two_in")
    with pytest.raises(lm.InputSpecError) as info:
        model.predict(np.ones((4, 2), np.float32), verbose=0)
    message = str(info.value)
    assert "two_in" in message and "2" in message and "1" in message


@pytest.mark.parametrize("how", ["call", "predict", "fit"])
def test_floats_into_an_integer_input(how):
    model = _model(dtype="int32")
    model.compile("sgd", "mse")
    x = np.full((4, 3), 0.5, np.float32)
    with pytest.raises(lm.InputSpecError) as info:
        if how == "call":
            model(x)
        elif how == "predict":
            model.predict(x, verbose=0)
        else:
            model.fit(x, np.ones((4, 2), np.float32), verbose=0)
    message = str(info.value)
    assert "net" in message
    assert "int32" in message
    assert "float32" in message


def test_integers_into_a_float_input_are_accepted():
    model = _model()
    assert model.predict(np.ones((4, 3), np.int32), verbose=0).shape == (4, 2)


@pytest.mark.parametrize("how", ["call", "predict", "fit"])
def test_string_array_into_a_model(how):
    model = _model()
    model.compile("sgd", "mse")
    x = np.array([["a", "b", "c"]] * 4)
    with pytest.raises(lm.InputSpecError) as info:
        if how == "call":
            model(x)
        elif how == "predict":
            model.predict(x, verbose=0)
        else:
            model.fit(x, np.ones((4, 2), np.float32), verbose=0)
    message = str(info.value)
    assert "net" in message
    assert "float32" in message  # what was expected
    assert "str" in message or "<U" in message  # what was received


# -- fit data -----------------------------------------------------------------------------
def test_mismatched_x_and_y_lengths_in_fit_name_both_lengths():
    model = _model()
    model.compile("sgd", "mse")
    with pytest.raises(ValueError) as info:
        model.fit(np.ones((10, 3), np.float32), np.ones((8, 2), np.float32), verbose=0)
    message = str(info.value)
    assert "10" in message and "8" in message
    assert "x" in message and "y" in message


def test_mismatched_sample_weight_length_in_fit():
    model = _model()
    model.compile("sgd", "mse")
    with pytest.raises(ValueError) as info:
        model.fit(np.ones((10, 3), np.float32), np.ones((10, 2), np.float32),
                  sample_weight=np.ones(7), verbose=0)
    message = str(info.value)
    assert "10" in message and "7" in message


# -- unknown names ------------------------------------------------------------------------
def _assert_lists(message, bad, valid):
    assert repr(bad) in message or bad in message
    for name in valid:
        assert name in message, f"{name!r} missing from: {message}"


def test_unknown_optimizer_name():
    model = _model()
    with pytest.raises(lm.ConfigurationError) as info:
        model.compile(optimizer="adamax_typo", loss="mse")
        model.train_on_batch(np.ones((2, 3)), np.ones((2, 2)))
    _assert_lists(str(info.value), "adamax_typo", ["sgd", "adam", "adamw", "rmsprop"])


def test_unknown_loss_name():
    model = _model()
    with pytest.raises(lm.ConfigurationError) as info:
        model.compile(optimizer="sgd", loss="mean_sqaured_error")
        model.train_on_batch(np.ones((2, 3)), np.ones((2, 2)))
    _assert_lists(str(info.value), "mean_sqaured_error",
                  ["mse", "mae", "binary_crossentropy", "categorical_crossentropy",
                   "sparse_categorical_crossentropy"])


def test_unknown_loss_name_from_losses_get():
    with pytest.raises(lm.ConfigurationError) as info:
        lm.losses.get("hinge_typo")
    _assert_lists(str(info.value), "hinge_typo", ["mse", "binary_crossentropy"])


def test_unknown_metric_name():
    model = _model()
    with pytest.raises(lm.ConfigurationError) as info:
        model.compile(optimizer="sgd", loss="mse", metrics=["acuracy"])
        model.train_on_batch(np.ones((2, 3)), np.ones((2, 2)))
    _assert_lists(str(info.value), "acuracy",
                  ["accuracy", "binary_accuracy", "categorical_accuracy",
                   "sparse_categorical_accuracy", "mse", "mae"])


def test_unknown_activation_name():
    with pytest.raises(lm.ConfigurationError) as info:
        lm.layers.Dense(2, activation="rellu")
    _assert_lists(str(info.value), "rellu", ["relu", "sigmoid", "tanh", "softmax", "linear"])
    with pytest.raises(lm.ConfigurationError):
        lm.layers.Activation("sigmoidd")


def test_unknown_initializer_name():
    with pytest.raises(lm.ConfigurationError) as info:
        lm.layers.Dense(2, kernel_initializer="glorot_uniformm")
    _assert_lists(str(info.value), "glorot_uniformm",
                  ["glorot_uniform", "he_normal", "zeros", "ones"])
    with pytest.raises(lm.ConfigurationError):
        lm.layers.Dense(2, bias_initializer="zeroes")


def test_configuration_errors_are_value_errors():
    # Keras raises ValueError for unknown identifiers; lamina's error must still be one
    with pytest.raises(ValueError):
        lm.optimizers.get("nope")


# -- graph errors -------------------------------------------------------------------------
def test_output_depending_on_an_input_not_passed_names_it():
    a = lm.Input((3,), name="main_in")
    b = lm.Input((3,), name="aux_in")
    out = lm.layers.Add()([lm.layers.Dense(2)(a), lm.layers.Dense(2)(b)])
    with pytest.raises(lm.GraphError) as info:
        lm.Model(a, out, name="broken")
    message = str(info.value)
    assert "aux_in" in message
    assert "broken" in message


def test_non_symbolic_output_is_a_graph_error():
    a = lm.Input((3,))
    with pytest.raises(lm.GraphError):
        lm.Model(a, np.ones((1, 3)))


# -- scoped freezing ----------------------------------------------------------------------
def test_freezing_a_layer_not_in_the_model_names_both():
    model = _model(name="owner")
    stranger = lm.layers.Dense(4, name="stranger")
    stranger(lm.Input((3,)))
    with pytest.raises(ValueError) as info:
        model.freeze(stranger)
    message = str(info.value)
    assert "owner" in message and "stranger" in message
    with pytest.raises(ValueError) as info:
        model.freeze("no_such_layer")
    assert "owner" in str(info.value) and "no_such_layer" in str(info.value)


# -- layers after building --------------------------------------------------------------
def test_dense_receiving_the_wrong_last_dimension_after_being_built():
    dense = lm.layers.Dense(2, name="proj")
    dense(np.ones((1, 3), np.float32))
    with pytest.raises(lm.InputSpecError) as info:
        dense(np.ones((1, 4), np.float32))
    message = str(info.value)
    assert "proj" in message
    assert "3" in message and "(1, 4)" in message


def test_dense_receiving_the_wrong_last_dimension_symbolically():
    dense = lm.layers.Dense(2, name="proj")
    dense(lm.Input((3,)))
    with pytest.raises(lm.InputSpecError) as info:
        dense(lm.Input((5,)))
    message = str(info.value)
    assert "proj" in message and "3" in message and "5" in message


def test_reshape_to_an_incompatible_shape():
    layer = lm.layers.Reshape((4, 4), name="resh")
    with pytest.raises(lm.InputSpecError) as info:
        layer(np.ones((2, 3, 5), np.float32))
    message = str(info.value)
    assert "resh" in message and "(4, 4)" in message and "(2, 3, 5)" in message


def test_reshape_with_minus_one_to_an_incompatible_shape():
    layer = lm.layers.Reshape((-1, 4), name="resh")
    with pytest.raises(lm.InputSpecError) as info:
        layer(np.ones((2, 3, 5), np.float32))
    assert "resh" in str(info.value) and "(-1, 4)" in str(info.value)


def test_reshape_symbolic_incompatible_shape():
    with pytest.raises(lm.InputSpecError) as info:
        lm.layers.Reshape((7,), name="resh")(lm.Input((3, 5)))
    assert "resh" in str(info.value) and "(7,)" in str(info.value)


def test_reshape_with_two_unknown_dimensions_is_rejected_naming_the_layer():
    with pytest.raises(ValueError) as info:
        layer = lm.layers.Reshape((-1, -1), name="resh")
        layer(np.ones((2, 6), np.float32))
    assert "resh" in str(info.value)


def test_concatenate_mismatched_shapes():
    layer = lm.layers.Concatenate(name="cat")
    with pytest.raises(lm.InputSpecError) as info:
        layer([np.ones((2, 3, 4), np.float32), np.ones((2, 5, 6), np.float32)])
    message = str(info.value)
    assert "cat" in message and "(2, 3, 4)" in message and "(2, 5, 6)" in message


def test_add_mismatched_shapes():
    layer = lm.layers.Add(name="plus")
    with pytest.raises(lm.InputSpecError) as info:
        layer([np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)])
    message = str(info.value)
    assert "plus" in message and "(2, 3)" in message and "(2, 4)" in message


def test_merge_layer_given_a_single_tensor():
    with pytest.raises(lm.InputSpecError) as info:
        lm.layers.Add(name="plus")(np.ones((2, 3), np.float32))
    assert "plus" in str(info.value)


# -- set_weights ------------------------------------------------------------------------
def test_set_weights_with_the_wrong_count():
    dense = lm.layers.Dense(2, name="proj")
    dense(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError) as info:
        dense.set_weights([np.ones((3, 2), np.float32)])
    message = str(info.value)
    assert "proj" in message and "2" in message and "1" in message
    before = dense.get_weights()
    with pytest.raises(ValueError):
        dense.set_weights([np.ones((3, 2)), np.ones(2), np.ones(2)])
    for got, want in zip(dense.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_set_weights_with_the_wrong_shape_changes_nothing():
    dense = lm.layers.Dense(2, name="proj")
    dense(np.ones((1, 3), np.float32))
    before = dense.get_weights()
    with pytest.raises(ValueError) as info:
        # the bias is fine, the kernel is transposed
        dense.set_weights([np.ones((2, 3), np.float32), np.ones(2, np.float32)])
    message = str(info.value)
    assert "proj" in message and "kernel" in message
    assert "(3, 2)" in message and "(2, 3)" in message
    for got, want in zip(dense.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_set_weights_wrong_shape_in_a_later_weight_names_it():
    dense = lm.layers.Dense(2, name="proj")
    dense(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError) as info:
        dense.set_weights([np.full((3, 2), 7.0, np.float32), np.ones(5, np.float32)])
    message = str(info.value)
    assert "proj" in message and "bias" in message
    assert "(2,)" in message and "(5,)" in message


def test_model_set_weights_with_the_wrong_count():
    model = _model()
    with pytest.raises(ValueError) as info:
        model.set_weights([np.ones((3, 2))])
    assert "net" in str(info.value)


# -- constructor arguments ------------------------------------------------------------
@pytest.mark.parametrize("units", [0, -1, 2.5, "4"])
def test_dense_rejects_bad_units(units):
    with pytest.raises(ValueError) as info:
        lm.layers.Dense(units)
    assert repr(units) in str(info.value)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError) as info:
        lm.layers.Dropout(rate)
    assert repr(rate) in str(info.value)
