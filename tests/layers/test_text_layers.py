"""TextVectorization, StringLookup, IntegerLookup beyond the Keras fixture: vocabulary
files and `set_vocabulary`, adapt from batches, callables, configs, output specs, and the
errors (each names the layer, what it expected and what it received).

References: hand-written numpy/python (the callables' results, a vocabulary file read line
by line); Keras's own outputs are in test_text_reference.py.
"""
import jax
import numpy as np
import pytest

import lamina as lm
from lamina.errors import ConfigurationError, InputSpecError, NotSupportedError, UsageError

L = lm.layers
CORPUS = np.array(["The cat sat.", "the dog sat", "a cat; a dog", "cat"])


def test_adapt_on_batches_equals_adapt_on_the_array():
    whole = L.TextVectorization(output_mode="tf_idf")
    whole.adapt(CORPUS)
    batched = L.TextVectorization(output_mode="tf_idf")
    batched.adapt(iter([CORPUS[:3], CORPUS[3:]]))
    listed = L.TextVectorization(output_mode="tf_idf")
    listed.adapt(list(CORPUS))
    assert whole.get_vocabulary() == batched.get_vocabulary() == listed.get_vocabulary()
    np.testing.assert_array_equal(whole.idf_weights, batched.idf_weights)
    # frequency order, ties by token from high to low: cat 3, sat/dog/a 2 (a twice in one
    # text), the 2
    assert whole.get_vocabulary() == ["[UNK]", "cat", "the", "sat", "dog", "a"]


def test_steps_limits_the_batches_adapt_reads():
    layer = L.TextVectorization()
    layer.adapt(iter([np.array(["x y"]), np.array(["z"])]), steps=1)
    assert layer.get_vocabulary(include_special_tokens=False) == ["y", "x"]


def test_vocabulary_file_and_set_vocabulary(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("dog\ncat\nbird\n\n", encoding="utf-8")
    from_file = L.StringLookup(vocabulary=str(path))
    assert from_file.get_vocabulary() == ["[UNK]", "dog", "cat", "bird"]
    assert from_file(np.array(["bird", "cow", "dog"])).tolist() == [3, 0, 1]
    ints = tmp_path / "ints.txt"
    ints.write_text("7\n3\n", encoding="utf-8")
    assert L.IntegerLookup(vocabulary=str(ints))(np.array([3, 7, 9])).tolist() == [2, 1, 0]
    layer = L.TextVectorization(output_mode="tf_idf")
    layer.set_vocabulary(["cat", "dog"], idf_weights=[1.0, 3.0])
    # without the special tokens the OOV index gets the mean weight, as Keras
    np.testing.assert_allclose(layer.idf_weights, [2.0, 1.0, 3.0])
    np.testing.assert_allclose(layer(np.array(["dog dog cow"])), [[2.0, 0.0, 6.0]])
    assert layer.vocabulary_size() == 3


def test_callable_standardize_and_split_get_numpy_strings():
    def shout(texts):
        return np.char.upper(texts)

    def on_commas(texts):
        return [t.split(",") for t in texts]

    layer = L.TextVectorization(standardize=shout, split=on_commas,
                                vocabulary=["A", "B C"], output_sequence_length=3)
    assert layer(np.array(["a,b c,d", "b c"])).tolist() == [[2, 3, 1], [3, 0, 0]]


def test_ngrams_and_character_split():
    layer = L.TextVectorization(split="character", ngrams=2, standardize=None)
    layer.adapt(np.array(["abab"]))
    # 1-grams a, b (2 each), then 2-grams "a b" (2), "b a" (1)
    assert layer.get_vocabulary() == ["", "[UNK]", "b", "a b", "a", "b a"]


def test_config_round_trip_keeps_vocabulary_and_idf_as_data():
    layer = L.TextVectorization(output_mode="tf_idf", ngrams=(1, 2), max_tokens=20,
                                pad_to_max_tokens=True)
    layer.adapt(CORPUS)
    config = layer.get_config()
    assert config["vocabulary"] == layer.get_vocabulary()
    copy = L.TextVectorization.from_config(config)
    np.testing.assert_array_equal(copy(CORPUS), layer(CORPUS))
    lookup = L.IntegerLookup(mask_token=0, output_mode="count")
    lookup.adapt(np.array([[3, 3, 5], [0, 5, 9]]))
    again = L.IntegerLookup.from_config(lookup.get_config())
    x = np.array([[3, 0, 4], [9, 9, 5]])
    np.testing.assert_array_equal(again(x), lookup(x))


def test_an_unregistered_callable_cannot_be_saved():
    layer = L.TextVectorization(standardize=lambda t: t, vocabulary=["a"])
    with pytest.raises(ConfigurationError, match="text_vectorization.*register_function"):
        layer.get_config()


@pytest.mark.parametrize("mode,spec_shape", [("int", (None, 4)), ("multi_hot", (None, 5)),
                                             ("count", (None, 5)), ("tf_idf", (None, 5))])
def test_output_spec_matches_the_output(mode, spec_shape):
    kwargs = {"output_sequence_length": 4} if mode == "int" else {}
    layer = L.TextVectorization(output_mode=mode, **kwargs)
    layer.adapt(np.array(["a b c d"]))
    shape, dtype = layer.host_output_spec((None, 1), "string")
    out = layer(np.array([["a b"], ["zz"]]))
    assert shape == spec_shape and out.shape[1:] == spec_shape[1:]
    assert np.dtype(dtype) == out.dtype


def test_non_string_input_is_an_error_naming_the_layer():
    layer = L.TextVectorization(vocabulary=["a"], name="words")
    with pytest.raises(InputSpecError, match="'words'.*expected strings.*float64"):
        layer(np.array([1.5, 2.0]))
    with pytest.raises(InputSpecError, match="'words'.*expected strings.*shape"):
        layer(np.array([["a", "b"]]))
    with pytest.raises(InputSpecError, match="StringLookup 'ids'.*expected strings.*int64"):
        L.StringLookup(vocabulary=["a"], name="ids")(np.array([1, 2]))
    with pytest.raises(InputSpecError, match="IntegerLookup 'ints'.*expected integers"):
        L.IntegerLookup(vocabulary=[1], name="ints")(np.array(["a"]))
    with pytest.raises(InputSpecError, match="'back'.*expected integer indices"):
        L.StringLookup(vocabulary=["a"], invert=True, name="back")(np.array(["a"]))


def test_an_inverted_lookup_adapts_on_tokens_and_inverts_the_forward_lookup():
    forward = L.StringLookup()
    forward.adapt(np.array(["b", "a", "b", "c"]))
    backward = L.StringLookup(invert=True)
    backward.adapt(np.array(["b", "a", "b", "c"]))
    texts = np.array([["a", "b"], ["c", "zz"]])
    assert backward(forward(texts)).tolist() == [["a", "b"], ["c", "[UNK]"]]


def test_empty_adapt_is_an_error_naming_the_layer():
    with pytest.raises(InputSpecError, match="'empty'.adapt.*empty data"):
        L.TextVectorization(name="empty").adapt(np.array([], dtype=str))
    with pytest.raises(InputSpecError, match="'gen'.adapt.*empty data"):
        L.TextVectorization(name="gen").adapt(iter([]))
    with pytest.raises(InputSpecError, match="'lookup'.adapt.*empty data"):
        L.StringLookup(name="lookup").adapt(iter([]))


def test_argument_errors():
    with pytest.raises(ConfigurationError, match="idf_weights"):
        L.StringLookup(vocabulary=["a"], output_mode="tf_idf")
    with pytest.raises(ConfigurationError, match="output_mode='int' when `invert=True`"):
        L.StringLookup(invert=True, output_mode="count")
    with pytest.raises(ConfigurationError, match="output_sequence_length"):
        L.TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ConfigurationError, match="repeated"):
        L.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ConfigurationError, match="at most max_tokens=3"):
        L.StringLookup(vocabulary=["a", "b", "c"], max_tokens=3)
    with pytest.raises(ConfigurationError, match="`split`"):
        L.TextVectorization(split="comma")
    with pytest.raises(NotSupportedError, match="farmhash"):
        L.StringLookup(num_oov_indices=2)
    with pytest.raises(NotSupportedError, match="sparse"):
        L.TextVectorization(sparse=True)
    with pytest.raises(InputSpecError, match="num_oov_indices=0.*'z'"):
        L.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["z"]))
    with pytest.raises(UsageError, match="adapt"):
        L.TextVectorization(output_mode="count")(np.array(["a"]))


def test_a_traced_call_is_refused():
    layer = L.IntegerLookup(vocabulary=[1, 2])
    with pytest.raises(UsageError, match="host"):
        jax.jit(layer)(np.array([1, 2]))
