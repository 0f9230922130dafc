"""Keras 3 `.keras` import of the layer catalogue: per family, one model built and saved by
Keras 3 (JAX backend) with non-trivial weights, loaded with `lamina.models.load_model`, must
predict what Keras predicts (rtol 1e-5, atol 1e-5: float32 chains of a few layers), with
the same parameter count; options lamina lacks are refused naming the layer and option."""
import json
import os
import zipfile

import numpy as np
import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("h5py")


# Keras 3.15 calls `__array__` the pre-NumPy-2 way; only its own deprecation warnings are muted
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")

RTOL, ATOL = 1e-5, 1e-5


@pytest.fixture(scope="module")
def keras():
    try:
        import keras
    except ImportError:
        pytest.skip("keras is not installed")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras cases run on Keras's JAX backend")
    return keras


def _randomize(kmodel, seed=0):
    """Every weight drawn at random (variances positive), so no weight is left at a value
    that would hide a mismatch (zeros biases, unit gammas); Normalization keeps its adapted
    statistics."""
    import keras

    rng = np.random.default_rng(seed)
    adapted = {id(v) for layer in kmodel.layers if isinstance(layer, keras.layers.Normalization)
               for v in layer.weights}
    for variable in kmodel.weights:
        if id(variable) in adapted:
            continue
        shape = tuple(variable.shape)
        if "variance" in variable.name:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.uniform(-0.6, 0.6, shape)
        variable.assign(value.astype("float32"))


def _round_trip(kmodel, tmp_path, name):
    path = tmp_path / f"{name}.keras"
    kmodel.save(path)
    model = lm.models.load_model(path)
    assert model.count_params() == kmodel.count_params()
    return model


def _assert_same_predictions(kmodel, model, x):
    expected = kmodel.predict(x, verbose=0)
    received = model.predict(x, verbose=0)
    if not isinstance(expected, (list, tuple)):
        expected, received = [expected], [received]
    assert len(expected) == len(received)
    for e, r in zip(expected, received, strict=True):
        assert np.asarray(r).shape == np.asarray(e).shape
        np.testing.assert_allclose(np.asarray(r), np.asarray(e), rtol=RTOL, atol=ATOL)


# -- families -------------------------------------------------------------------------------
def test_convolution_pooling_and_normalization_family(keras, tmp_path):
    layers, reg, con, init = (keras.layers, keras.regularizers, keras.constraints,
                              keras.initializers)
    image = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2d",
                      kernel_regularizer=reg.L2(1e-3), bias_regularizer=reg.L1(1e-3),
                      kernel_constraint=con.MaxNorm(2.0), bias_constraint=con.NonNeg(),
                      activity_regularizer=reg.L1L2(1e-4, 1e-4))(image)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise")(x)
    x = layers.SeparableConv2D(5, 3, padding="same", dilation_rate=2, name="separable",
                               depthwise_constraint=con.UnitNorm(axis=[0, 1]))(x)
    x = layers.BatchNormalization(momentum=0.8, epsilon=1e-2, name="bn",
                                  gamma_initializer=init.Constant(0.5),
                                  beta_regularizer=reg.L2(0.1),
                                  gamma_constraint=con.MinMaxNorm(0.1, 2.0))(x)
    x = layers.Conv2DTranspose(4, 3, strides=2, name="deconv",
                               kernel_initializer=init.TruncatedNormal(stddev=0.2))(x)
    x = layers.MaxPooling2D(2, name="max2d")(x)
    x = layers.AveragePooling2D(2, strides=1, padding="same", name="avg2d")(x)
    x = layers.GroupNormalization(groups=2, name="group_norm")(x)
    x = layers.ZeroPadding2D(((1, 0), (2, 1)), name="pad2d")(x)
    x = layers.Cropping2D(((0, 1), (1, 1)), name="crop2d")(x)
    x = layers.UpSampling2D(2, name="up2d")(x)
    x = layers.Conv2D(4, 2, groups=2, name="grouped")(x)
    a = layers.GlobalMaxPooling2D(name="gmax2d")(x)
    b = layers.GlobalAveragePooling2D(keepdims=True, name="gavg2d")(x)
    b = layers.Flatten(name="flat")(b)

    series = keras.Input((10, 3), name="series")
    y = layers.Conv1D(4, 3, strides=2, padding="causal", name="conv1d",
                      kernel_initializer=init.Orthogonal(gain=0.5))(series)
    y = layers.MaxPooling1D(2, padding="same", name="max1d")(y)
    y = layers.ZeroPadding1D(2, name="pad1d")(y)
    y = layers.Cropping1D((1, 0), name="crop1d")(y)
    y = layers.UpSampling1D(3, name="up1d")(y)
    y = layers.AveragePooling1D(2, name="avg1d")(y)
    c = layers.GlobalAveragePooling1D(name="gavg1d")(y)
    d = layers.GlobalMaxPooling1D(name="gmax1d")(y)

    volume = keras.Input((4, 4, 4, 2), name="volume")
    z = layers.Conv3D(3, 2, name="conv3d")(volume)
    z = layers.MaxPooling3D(1, name="max3d")(z)
    e = layers.GlobalAveragePooling3D(name="gavg3d")(z)

    joined = layers.Concatenate(name="join")([a, b, c, d, e])
    out = layers.Dense(3, name="head", kernel_regularizer=reg.OrthogonalRegularizer(0.01),
                       kernel_initializer=init.VarianceScaling(0.5, "fan_out", "uniform"))(
        joined)
    out = layers.LayerNormalization(name="layer_norm", rms_scaling=False)(out)
    kmodel = keras.Model([image, series, volume], out, name="convs")
    _randomize(kmodel)

    model = _round_trip(kmodel, tmp_path, "convs")

    conv = model.get_layer("conv2d")
    assert isinstance(conv, lm.layers.Conv2D) and conv.padding == "same"
    assert isinstance(conv.kernel_regularizer, lm.regularizers.L2)
    assert conv.kernel_regularizer.l2 == pytest.approx(1e-3)
    assert isinstance(conv.kernel_constraint, lm.constraints.MaxNorm)
    assert isinstance(conv.bias_constraint, lm.constraints.NonNeg)
    assert isinstance(conv.activity_regularizer, lm.regularizers.L1L2)
    bn = model.get_layer("bn")
    assert (bn.momentum, bn.epsilon) == (0.8, 1e-2)
    assert isinstance(bn.gamma_constraint, lm.constraints.MinMaxNorm)
    assert isinstance(model.get_layer("head").kernel_regularizer,
                      lm.regularizers.OrthogonalRegularizer)
    assert model.get_layer("separable").depthwise_constraint.axis == (0, 1)
    rng = np.random.default_rng(1)
    x = [rng.normal(size=(2, 8, 8, 3)).astype("float32"),
         rng.normal(size=(2, 10, 3)).astype("float32"),
         rng.normal(size=(2, 4, 4, 4, 2)).astype("float32")]
    _assert_same_predictions(kmodel, model, x)
    # the regularizers compute Keras's penalties on the imported weights
    for name, attribute in (("conv2d", "kernel_regularizer"), ("conv2d", "bias_regularizer"),
                            ("head", "kernel_regularizer")):
        k_layer = kmodel.get_layer(name)
        weight = "kernel" if attribute.startswith("kernel") else "bias"
        expected = getattr(k_layer, attribute)(getattr(k_layer, weight))
        received = getattr(model.get_layer(name), attribute)(
            getattr(model.get_layer(name), weight).value)
        np.testing.assert_allclose(float(received), float(expected), rtol=RTOL)


def test_recurrent_family_with_masks(keras, tmp_path):
    layers = keras.layers
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = layers.Embedding(12, 4, mask_zero=True, name="embed")(tokens)
    x = layers.LSTM(5, return_sequences=True, name="lstm", recurrent_activation="hard_sigmoid",
                    unit_forget_bias=False)(x)
    x = layers.Bidirectional(layers.GRU(3, return_sequences=True, reset_after=False),
                             merge_mode="sum", name="bi_gru")(x)
    x = layers.TimeDistributed(layers.Dense(4, activation="tanh"), name="per_step")(x)
    x = layers.Dropout(0.3, name="drop")(x)
    first = layers.SimpleRNN(3, go_backwards=True, name="rnn")(x)
    pooled = layers.GlobalAveragePooling1D(name="pool")(x)

    frames = keras.Input((5, 3), name="frames")
    y = layers.Masking(mask_value=0.0, name="masking")(frames)
    y = layers.Bidirectional(layers.LSTM(2), name="bi_lstm")(y)

    kmodel = keras.Model([tokens, frames], [first, pooled, y], name="recurrent")
    _randomize(kmodel)

    model = _round_trip(kmodel, tmp_path, "recurrent")

    assert model.get_layer("embed").mask_zero is True
    assert model.get_layer("bi_gru").merge_mode == "sum"
    assert model.get_layer("rnn").go_backwards is True
    ids = np.array([[3, 5, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6], [9, 0, 0, 0, 0, 0]], "int32")
    rng = np.random.default_rng(2)
    frames_x = rng.normal(size=(3, 5, 3)).astype("float32")
    frames_x[0, 3:] = 0.0  # masked steps
    frames_x[2, 1:] = 0.0
    _assert_same_predictions(kmodel, model, [ids, frames_x])


def test_recurrent_sequential_with_mask(keras, tmp_path):
    layers = keras.layers
    kmodel = keras.Sequential([
        keras.Input((5,), dtype="int32"),
        layers.Embedding(8, 3, mask_zero=True, name="embed"),
        layers.Bidirectional(layers.SimpleRNN(2, return_sequences=True), name="bi"),
        layers.GRU(3, name="gru"),
        layers.RepeatVector(2, name="repeat"),
        layers.TimeDistributed(layers.Dense(2), name="td"),
    ], name="seq_rnn")
    _randomize(kmodel)
    model = _round_trip(kmodel, tmp_path, "seq_rnn")
    ids = np.array([[1, 2, 0, 0, 0], [4, 5, 6, 7, 1]], "int32")
    _assert_same_predictions(kmodel, model, ids)
    # the mask matters here: the same weights without it predict something else
    config = kmodel.get_config()
    config["layers"][1]["config"]["mask_zero"] = False
    unmasked = keras.Sequential.from_config(config)
    unmasked.set_weights(kmodel.get_weights())
    assert not np.allclose(unmasked.predict(ids, verbose=0)[0],
                           np.asarray(model.predict(ids, verbose=0))[0], atol=1e-3)


def test_attention_merging_and_reshaping_family(keras, tmp_path):
    layers = keras.layers
    query = keras.Input((4, 6), name="query")
    value = keras.Input((5, 6), name="value")
    attended = layers.MultiHeadAttention(2, 3, name="mha",
                                         kernel_regularizer="l2")(query, value)
    self_att = layers.MultiHeadAttention(3, 2, use_bias=False, output_shape=(6,),
                                         name="self_mha")(query, query, use_causal_mask=True)
    dot_att = layers.Attention(use_scale=True, score_mode="concat", name="att")([query, value])
    additive = layers.AdditiveAttention(name="additive")([query, value, value])
    merged = [
        layers.Add(name="add")([attended, self_att]),
        layers.Subtract(name="sub")([attended, dot_att]),
        layers.Multiply(name="mul")([dot_att, additive]),
        layers.Average(name="avg")([attended, additive]),
        layers.Maximum(name="max")([self_att, dot_att]),
        layers.Minimum(name="min")([self_att, additive]),
    ]
    x = layers.Concatenate(axis=1, name="concat")(merged)
    x = layers.Permute((2, 1), name="permute")(x)
    x = layers.Reshape((6, 12, 2), name="reshape")(x)
    x = layers.Flatten(name="flat")(x)
    dot = layers.Dot(axes=1, normalize=True, name="dot")(
        [layers.Dense(4, name="da")(x), layers.Dense(4, name="db")(x)])
    kmodel = keras.Model([query, value], [x, dot], name="attention")
    _randomize(kmodel)

    model = _round_trip(kmodel, tmp_path, "attention")

    assert model.get_layer("mha").num_heads == 2
    assert model.get_layer("att").score_mode == "concat"
    rng = np.random.default_rng(3)
    x = [rng.normal(size=(2, 4, 6)).astype("float32"),
         rng.normal(size=(2, 5, 6)).astype("float32")]
    _assert_same_predictions(kmodel, model, x)


def test_attention_over_embedding_mask(keras, tmp_path):
    layers = keras.layers
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    x = layers.Embedding(9, 4, mask_zero=True, name="embed")(tokens)
    x = layers.MultiHeadAttention(2, 2, name="mha")(x, x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    kmodel = keras.Model(tokens, x)
    _randomize(kmodel)
    model = _round_trip(kmodel, tmp_path, "masked_attention")
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]], "int32")
    _assert_same_predictions(kmodel, model, ids)


def test_activation_dropout_and_preprocessing_family(keras, tmp_path):
    layers = keras.layers
    normalization = layers.Normalization(name="norm")
    data = np.random.default_rng(4).normal(2.0, 3.0, size=(40, 6)).astype("float32")
    normalization.adapt(data)
    kmodel = keras.Sequential([
        keras.Input((6,)),
        layers.Rescaling(0.5, offset=1.0, name="rescale"),
        normalization,
        layers.Normalization(mean=[0.5] * 6, variance=[2.0] * 6, invert=True, name="fixed"),
        layers.Dense(8, name="dense"),
        layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.2, name="relu"),
        layers.LeakyReLU(negative_slope=0.2, name="leaky"),
        layers.PReLU(name="prelu"),
        layers.ELU(alpha=0.7, name="elu"),
        layers.Dropout(0.5, seed=3, name="drop"),
        layers.GaussianNoise(0.3, name="noise"),
        layers.GaussianDropout(0.3, name="gdrop"),
        layers.AlphaDropout(0.3, name="adrop"),
        layers.ActivityRegularization(l1=0.01, name="act_reg"),
        layers.UnitNormalization(name="unit"),
        layers.Identity(name="identity"),
        layers.Reshape((4, 2), name="reshape"),
        layers.SpatialDropout1D(0.4, name="sdrop"),
        layers.Softmax(axis=1, name="softmax"),
        layers.Flatten(name="flat"),
        layers.Activation("gelu", name="gelu"),
    ], name="activations")
    _randomize(kmodel)

    model = _round_trip(kmodel, tmp_path, "activations")

    assert model.get_layer("relu").max_value == 2.0
    assert model.get_layer("fixed").invert is True
    np.testing.assert_allclose(np.asarray(model.get_layer("norm").get_weights()[0]),
                               data.mean(axis=0), rtol=1e-5)
    x = np.random.default_rng(5).normal(size=(3, 6)).astype("float32")
    _assert_same_predictions(kmodel, model, x)


def test_spatial_dropouts_and_3d_layers_load(keras, tmp_path):
    layers = keras.layers
    kmodel = keras.Sequential([
        keras.Input((4, 4, 4, 2)),
        layers.Conv3DTranspose(2, 2, name="deconv3d"),
        layers.SpatialDropout3D(0.2, name="sdrop3d"),
        layers.AveragePooling3D(2, name="avg3d"),
        layers.GlobalMaxPooling3D(name="gmax3d"),
        layers.Reshape((1, 1, 2), name="to_image"),
        layers.SpatialDropout2D(0.2, name="sdrop2d"),
        layers.Reshape((2, 1), name="to_series"),
        layers.Conv1DTranspose(3, 2, name="deconv1d"),
        layers.DepthwiseConv1D(2, name="depthwise1d"),
        layers.SeparableConv1D(2, 1, name="separable1d"),
    ], name="three_d")
    _randomize(kmodel)
    model = _round_trip(kmodel, tmp_path, "three_d")
    x = np.random.default_rng(6).normal(size=(2, 4, 4, 4, 2)).astype("float32")
    _assert_same_predictions(kmodel, model, x)


# -- refusals ---------------------------------------------------------------------------------
def _refused(path, *fragments):
    with pytest.raises(lm.LaminaError) as info:
        lm.models.load_model(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_options_lamina_lacks_are_refused_by_layer_and_option(keras, tmp_path):
    layers = keras.layers
    path = tmp_path / "gate.keras"
    q = keras.Input((3, 4))
    keras.Model(q, layers.MultiHeadAttention(2, 2, use_gate=True, name="gated")(q, q)).save(
        path)
    _refused(path, "'gated'", "use_gate")

    path = tmp_path / "renorm.keras"
    keras.Sequential([keras.Input((3,)), layers.BatchNormalization(
        renorm=True, name="renormed")]).save(path)
    _refused(path, "'renormed'", "renorm")

    path = tmp_path / "first.keras"
    keras.Sequential([keras.Input((1, 4, 4)), layers.Conv2D(
        2, 3, data_format="channels_first", name="cf")]).save(path)
    _refused(path, "'cf'", "channels_first")


def test_unsupported_layers_initializers_and_nested_classes_are_refused(keras, tmp_path):
    layers = keras.layers
    path = tmp_path / "augmix.keras"
    keras.Sequential([keras.Input((4, 4, 3)), layers.AugMix(name="augmix")]).save(path)
    _refused(path, "AugMix", "not supported")

    path = tmp_path / "td.keras"
    keras.Sequential([keras.Input((3, 2)), layers.TimeDistributed(
        layers.Dense(2), name="td")]).save(path)

    def inner(config):
        return config["config"]["layers"][1]["config"]["layer"]

    unknown = _edited(path, tmp_path / "stft.keras", lambda c: inner(c)["config"].update(
        kernel_initializer={"module": "keras.initializers", "class_name": "STFT",
                            "config": {}, "registered_name": None}))
    _refused(unknown, "'td'", "kernel_initializer", "STFT")

    hostile = _edited(path, tmp_path / "hostile_nested.keras", lambda c: inner(c).update(
        module="os", class_name="system", registered_name="os>system"))
    _refused(hostile, "os.system", "'layer'")

    dropped = _edited(path, tmp_path / "unknown_option.keras",
                      lambda c: inner(c)["config"].update(lora_rank=4))
    _refused(dropped, "lora_rank")


def _edited(path, new_path, edit):
    """A copy of the `.keras` file at `path` with its config changed by `edit`."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(new_path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return new_path


def test_lamina_names_every_keras_option_it_imports(keras):
    """The importer's option list for a class is its lamina constructor's arguments: every
    option Keras writes for these layers is either one of them or refused by name."""
    from lamina.saving.keras import layers as keras_layers

    for class_name in ("Conv2D", "LSTM", "GRU", "SimpleRNN", "MultiHeadAttention",
                       "BatchNormalization", "Embedding", "Dense"):
        k_layer = getattr(keras.layers, class_name)(
            *{"Conv2D": (2, 3), "MultiHeadAttention": (2, 2), "Embedding": (3, 2),
              "BatchNormalization": ()}.get(class_name, (2,)))
        written = set(k_layer.get_config()) - {"name", "trainable", "dtype"}
        accepted = set(keras_layers._arguments(keras_layers._lamina_class(class_name)))
        lacking = written - accepted
        assert lacking <= set(keras_layers._INERT_OPTIONS) | {"renorm_momentum"}, (
            class_name, lacking)
