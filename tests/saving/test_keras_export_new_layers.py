"""`.keras` export of the layer families added with issue 16 and LoRA: Keras 3 opens what
lamina writes with equal predictions; what Keras's layout cannot hold is refused by name."""
import os

import numpy as np
import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


@pytest.fixture(scope="module")
def keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras comparisons run on Keras's JAX backend")
    return keras


def _attention_and_einsum():
    inputs = lm.Input((5, 6))
    h = lm.layers.GroupQueryAttention(2, 4, 2, sliding_window=2)(inputs, inputs)
    h = lm.layers.EinsumDense("abc,cd->abd", (None, 4), bias_axes="d")(h)
    return lm.Model(inputs, lm.layers.RMSNormalization()(h))


def _conv_lstm_and_augmentation():
    inputs = lm.Input((3, 8, 8, 1))
    h = lm.layers.ConvLSTM2D(2, 3, return_sequences=True)(inputs)
    h = lm.layers.TimeDistributed(lm.layers.Resizing(4, 4))(h)
    return lm.Model(inputs, lm.layers.Flatten()(h))


@pytest.mark.parametrize("build", [_attention_and_einsum, _conv_lstm_and_augmentation])
def test_keras_opens_the_file_with_equal_predictions(keras, build, tmp_path):
    model = build()
    rng = np.random.default_rng(0)
    for variable in model.weights:
        variable.assign(rng.uniform(-0.5, 0.5, variable.shape).astype(np.float32))
    model.save(tmp_path / "m.keras")
    kmodel = keras.models.load_model(tmp_path / "m.keras")
    x = rng.normal(size=(2,) + tuple(model.inputs[0].shape[1:])).astype(np.float32)
    np.testing.assert_allclose(kmodel.predict(x, verbose=0),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-5, atol=1e-5)


def test_lora_and_pipeline_are_refused_with_the_way_out(tmp_path):
    inputs = lm.Input((4,))
    dense = lm.layers.Dense(3)
    model = lm.Model(inputs, dense(inputs))
    dense.enable_lora(2)
    with pytest.raises(lm.SavingError, match=r"LoRA enabled.*merge_lora\(\)"):
        model.save(tmp_path / "lora.keras")
    assert not (tmp_path / "lora.keras").exists()
    model.merge_lora()
    model.save(tmp_path / "merged.keras")
    piped = lm.Model(inputs, lm.layers.Pipeline([lm.layers.Dense(2)])(inputs))
    with pytest.raises(lm.SavingError, match="nested Pipeline layout"):
        piped.save(tmp_path / "pipe.keras")
