"""Models that start with host layers (TextVectorization, StringLookup): fit, evaluate,
predict, the batch methods and `model(x)` on raw strings, saving, and the graph rules.

The reference is the same model split by hand: the host layer applied in the data pipeline
(`layer(texts)`) and a twin model on its numeric output with the same initial weights. The
host prefix must give the same losses and predictions, bit for bit on CPU (rtol 1e-6).
"""
import zipfile

import numpy as np
import pytest

import lamina as lm
from lamina.errors import GraphError, InputSpecError, SavingError
from lamina.layers.host_layer import HostLayer

L = lm.layers
TEXTS = np.array(["good great fine", "bad awful poor", "great good day", "poor bad day",
                  "fine good", "awful bad", "good day", "bad day"])
LABELS = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=np.float32)


def _text_model():
    tv = L.TextVectorization(output_mode="multi_hot", name="words")
    tv.adapt(TEXTS)
    inp = lm.Input(shape=(1,), dtype="string", name="text")
    out = L.Dense(1, activation="sigmoid", name="head")(tv(inp))
    model = lm.Model(inp, out)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return model, tv


def _twin(model, tv):
    inp = lm.Input(shape=(tv.vocabulary_size(),))
    twin = lm.Model(inp, L.Dense(1, activation="sigmoid")(inp))
    twin.set_weights(model.get_weights())
    twin.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return twin


@pytest.fixture(scope="module")
def trained():
    lm.random.set_seed(0)
    model, tv = _text_model()
    twin = _twin(model, tv)
    history = model.fit(TEXTS, LABELS, epochs=2, batch_size=4, shuffle=False, verbose=0)
    twin_history = twin.fit(tv(TEXTS[:, None]), LABELS, epochs=2, batch_size=4,
                            shuffle=False, verbose=0)
    return model, tv, twin, history, twin_history


def test_fit_on_raw_strings_equals_fit_on_the_preprocessed_data(trained):
    model, tv, twin, history, twin_history = trained
    np.testing.assert_allclose(history.history["loss"], twin_history.history["loss"],
                               rtol=1e-6)
    for ours, theirs in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_predict_evaluate_and_direct_calls_on_raw_strings(trained):
    model, tv, twin, _, _ = trained
    expected = twin.predict(tv(TEXTS), verbose=0)
    np.testing.assert_allclose(model.predict(TEXTS, verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict(list(TEXTS), batch_size=3, verbose=0), expected,
                               rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(TEXTS[:3, None]), expected[:3],
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(model(TEXTS[:2])), expected[:2], rtol=1e-6)
    np.testing.assert_allclose(model.evaluate(TEXTS, LABELS, verbose=0),
                               twin.evaluate(tv(TEXTS), LABELS, verbose=0), rtol=1e-6)


def test_batch_methods_and_generators_on_raw_strings():
    model, tv = _text_model()
    twin = _twin(model, tv)
    ours = model.train_on_batch(TEXTS[:4], LABELS[:4])
    theirs = twin.train_on_batch(tv(TEXTS[:4]), LABELS[:4])
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)

    def batches():
        for i in range(0, len(TEXTS), 4):
            yield TEXTS[i:i + 4], LABELS[i:i + 4]

    model.fit(batches(), epochs=1, verbose=0)
    twin.fit(((tv(x), y) for x, y in batches()), epochs=1, verbose=0)
    np.testing.assert_allclose(model.get_weights()[0], twin.get_weights()[0], rtol=1e-6)
    history = model.fit(TEXTS, LABELS, validation_data=(TEXTS[:2], LABELS[:2]), epochs=1,
                        verbose=0)
    np.testing.assert_allclose(history.history["val_loss"],
                               model.evaluate(TEXTS[:2], LABELS[:2], verbose=0)[0], rtol=1e-6)


def test_save_and_load_keep_the_vocabulary_as_data(tmp_path):
    model, tv = _text_model()
    path = tmp_path / "text.lamina"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        config = next(archive.read(n).decode() for n in names if n.endswith(".json")
                      and "words" in archive.read(n).decode())
    assert all(n.endswith((".json", ".safetensors")) for n in names)
    assert '"great"' in config and '"[UNK]"' in config
    loaded = lm.models.load_model(path)
    assert loaded.get_layer("words").get_vocabulary() == tv.get_vocabulary()
    np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0),
                                  model.predict(TEXTS, verbose=0))


def test_sequential_with_a_string_input_and_a_second_numeric_input():
    seq = lm.Sequential([lm.Input(shape=(), dtype="string"),
                         L.TextVectorization(vocabulary=["good", "bad"],
                                             output_sequence_length=3),
                         L.Embedding(4, 2), L.GlobalAveragePooling1D(), L.Dense(1)])
    assert seq.predict(TEXTS, verbose=0).shape == (8, 1)
    text, number = lm.Input(shape=(1,), dtype="string"), lm.Input(shape=(2,))
    lookup = L.StringLookup(vocabulary=["good", "bad"], output_mode="one_hot")
    joined = L.Concatenate()([lookup(text), number])
    model = lm.Model([text, number], L.Dense(1)(joined))
    numbers = np.ones((3, 2), np.float32)
    out = model.predict([np.array([["good"], ["bad"], ["x"]]), numbers], verbose=0)
    w, b = model.get_layer(index=-1).get_weights()
    one_hot = np.eye(3, dtype=np.float32)[[1, 2, 0]]
    np.testing.assert_allclose(out, np.concatenate([one_hot, numbers], 1) @ w + b,
                               rtol=1e-6)


def test_summary_and_explain_show_the_host_layer(capsys):
    model, tv = _text_model()
    model.summary()
    printed = capsys.readouterr().out
    assert "words (TextVectorization)" in printed
    assert f"(None, {tv.vocabulary_size()})" in printed
    report = str(model.explain())
    assert "head" in report and "trained" in report


def test_a_host_layer_fed_by_a_compiled_layer_is_a_graph_error():
    inp = lm.Input(shape=(2,))
    codes = L.Dense(2)(inp)
    lookup = L.IntegerLookup(vocabulary=[1, 2], name="late")
    with pytest.raises(GraphError, match="(?s)'late'.*reads the output of layer 'dense'"):
        lm.Model(inp, lookup(codes))


def test_a_compiled_layer_on_a_string_tensor_is_a_graph_error():
    with pytest.raises(GraphError, match="(?s)'dense'.*string tensor.*TextVectorization"):
        L.Dense(2)(lm.Input(shape=(1,), dtype="string"))


def test_numbers_given_to_a_string_input_are_an_error():
    model, _ = _text_model()
    with pytest.raises(InputSpecError, match="input 'text'.*expected strings.*float"):
        model.predict(np.ones((2, 1)), verbose=0)


def test_a_sequential_without_input_gets_a_string_input_from_the_text():
    vectorize = L.TextVectorization(vocabulary=["good", "bad"], output_sequence_length=3)
    seq = lm.Sequential([vectorize, L.Embedding(4, 2), L.GlobalAveragePooling1D()])
    out = seq.predict(["good bad", "bad"], verbose=0)
    table = seq.layers[1].get_weights()[0]
    expected = np.stack([table[[2, 3, 0]].mean(0), table[[3, 0, 0]].mean(0)])
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    called = lm.Sequential([L.TextVectorization(vocabulary=["good"]), L.Embedding(3, 2)])
    assert np.asarray(called(np.array(["good good x"]))).shape == (1, 3, 2)


def test_keras_files_refuse_host_layers_and_name_the_lamina_format(tmp_path):
    model, _ = _text_model()
    with pytest.raises(SavingError, match="(?s)'words'.*host preprocessing.*'.lamina'"):
        model.save(tmp_path / "text.keras")


def test_a_host_layer_on_a_list_of_inputs_gets_lists_of_shapes_and_dtypes():
    class PairLengths(HostLayer):
        """The character counts of two text columns: (batch, 2) float32."""

        def host_call(self, inputs, **kwargs):
            return np.stack([np.char.str_len(a.astype(str)) for a in inputs], 1).astype(
                np.float32)[:, :, 0]

        def host_output_spec(self, shape, dtype):
            assert dtype == ["string", "string"]
            return (shape[0][0], len(shape)), "float32"

    left, right = lm.Input(shape=(1,), dtype="string"), lm.Input(shape=(1,), dtype="string")
    lengths = PairLengths()([left, right])
    assert lengths.shape == (None, 2)
    model = lm.Model([left, right], L.Dense(1, use_bias=False)(lengths))
    out = model.predict([np.array([["ab"], ["abcd"]]), np.array([["x"], [""]])], verbose=0)
    kernel = model.layers[-1].get_weights()[0]
    np.testing.assert_allclose(out, np.array([[2.0, 1.0], [4.0, 0.0]]) @ kernel, rtol=1e-6)
