"""Hashing and HashedCrossing (host layers) and their numpy hash kernels.

References, independent of lamina:
- published test vectors: FarmHash Fingerprint64 from Guava's FarmHashFingerprint64Test, and
  SipHash-2-4 from the reference implementation (Aumasson and Bernstein, vectors.h: key
  00..0f, message 00..(n-1));
- the examples of Keras 3.15's docstrings (keras/src/layers/preprocessing/hashing.py,
  hashed_crossing.py);
- `tests/fixtures/categorical/hashing_reference.json`, written by TensorFlow 2.21 and Keras
  3.15 (`make_reference.py` beside it): fingerprints and SipHashes of 153 strings of 0 to
  1000 bytes, and Keras's Hashing / HashedCrossing layers on strings, ints and floats with
  masks, salts and every output mode.
"""
import json
import pathlib

import numpy as np
import pytest

import lamina as lm
from lamina.core import registry
from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError, UsageError
from lamina.layers import hash_kernels
from lamina.layers.hashed_crossing import HashedCrossing
from lamina.layers.hashing import Hashing

REFERENCE = json.loads((pathlib.Path(__file__).parents[1] / "fixtures" / "categorical"
                        / "hashing_reference.json").read_text())
FP_STRINGS = [bytes.fromhex(case["hex"]) for case in REFERENCE["fingerprint64"]]
SIP_TEST_KEY = (int.from_bytes(bytes(range(8)), "little"),
                int.from_bytes(bytes(range(8, 16)), "little"))


def _decode(encoded):
    if encoded["dtype"] == "string":
        return np.array(encoded["values"])
    return np.array(encoded["values"], dtype=encoded["dtype"])


# -- kernels ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    (b"test", 8581389452482819506), (b"test" * 8, -4196240717365766262),
    (b"test" * 64, 3500507768004279527)])
def test_fingerprint64_matches_guava_published_vectors(text, expected):
    assert int(hash_kernels.fingerprint64([text]).view(np.int64)[0]) == expected


@pytest.mark.parametrize("length, expected", [
    (0, 0x726FDB47DD0E0E31), (8, 0x93F5F5799A932462), (15, 0xA129CA6149BE45E5),
    (63, 0x958A324CEB064572)])
def test_siphash24_matches_reference_implementation_vectors(length, expected):
    assert int(hash_kernels.siphash24([bytes(range(length))], SIP_TEST_KEY)[0]) == expected


def test_fingerprint64_equals_tensorflow_on_every_length_branch():
    got = hash_kernels.fingerprint64(FP_STRINGS)
    expected = np.array([int(c["value"]) for c in REFERENCE["fingerprint64"]], np.uint64)
    np.testing.assert_array_equal(got, expected)
    assert {len(s) for s in FP_STRINGS} >= {0, 3, 4, 8, 16, 17, 32, 33, 64, 65, 128, 1000}


@pytest.mark.parametrize("case", REFERENCE["siphash"], ids=lambda c: str(c["key"]))
def test_siphash24_buckets_equal_tensorflow_to_hash_bucket_strong(case):
    got = hash_kernels.siphash24(FP_STRINGS, case["key"]) % np.uint64(int(case["num_buckets"]))
    np.testing.assert_array_equal(got, np.array([int(v) for v in case["values"]], np.uint64))


@pytest.mark.parametrize("kernel", [hash_kernels.fingerprint64,
                                    lambda s: hash_kernels.siphash24(s, (3, 4))])
def test_kernels_hash_each_string_alone_as_in_a_batch(kernel):
    # the grouping by length must put every hash back in its place
    strings = FP_STRINGS[::-1][:80] + [b"ab", b"", b"ab"]
    one_by_one = np.concatenate([kernel([s]) for s in strings])
    np.testing.assert_array_equal(kernel(strings), one_by_one)


# -- Hashing ------------------------------------------------------------------------------
WORDS5 = [["A"], ["B"], ["C"], ["D"], ["E"]]


@pytest.mark.parametrize("kwargs, inputs, expected", [
    ({"num_bins": 3}, WORDS5, [1, 0, 1, 1, 2]),
    ({"num_bins": 3, "mask_value": ""}, [["A"], ["B"], [""], ["C"], ["D"]], [1, 1, 0, 2, 2]),
    ({"num_bins": 3, "salt": [133, 137]}, WORDS5, [1, 2, 1, 0, 2]),
    ({"num_bins": 3, "salt": 133}, WORDS5, [0, 0, 2, 1, 0])])
def test_hashing_reproduces_the_keras_docstring_examples(kwargs, inputs, expected):
    out = Hashing(**kwargs)(inputs)
    assert out.shape == (5, 1) and out.dtype == np.int64
    np.testing.assert_array_equal(out[:, 0], expected)


@pytest.mark.parametrize("case", REFERENCE["hashing"], ids=lambda c: json.dumps(c["config"]))
def test_hashing_equals_keras_with_tensorflow(case):
    x = _decode(case["input"])
    layer = Hashing(**case["config"])
    expected = np.array(case["output"])
    for inputs in (x, x.tolist(), x.astype(object)):
        out = layer(inputs)
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out, expected)
    assert out.dtype == (np.int64 if layer.output_mode == "int" else np.float32)
    spec_shape, spec_dtype = layer.host_output_spec(x.shape, x.dtype.name)
    assert spec_shape == expected.shape and spec_dtype == out.dtype.name


def test_hashing_bytes_equal_text_and_int32_output_dtype():
    layer = Hashing(num_bins=7, dtype="int32")
    text = layer(np.array(["héllo", "x"]))
    np.testing.assert_array_equal(text, layer(np.array(["héllo".encode(), b"x"])))
    assert text.dtype == np.int32


def test_hashing_integers_hash_as_their_decimal_text():
    layer = Hashing(num_bins=1000)
    np.testing.assert_array_equal(layer(np.array([-5, 12, 0])), layer(np.array(["-5", "12", "0"])))


def test_hashing_booleans_hash_as_tensorflow_true_false():
    # TensorFlow 2.21 (Keras's Hashing(num_bins=7) on [True, False]) gives [3, 0]
    layer = Hashing(num_bins=7)
    np.testing.assert_array_equal(layer(np.array([True, False])), [3, 0])
    np.testing.assert_array_equal(layer(np.array(["true", "false"])), [3, 0])


def test_hashing_config_round_trip_and_registry():
    layer = Hashing(num_bins=9, mask_value="", salt=5, output_mode="count", name="h")
    config = layer.get_config()
    assert config["salt"] == [5, 5] and config["dtype"] == "float32"
    clone = Hashing.from_config(config)
    assert clone.get_config() == config
    x = np.array([["a", "b", ""], ["c", "", "c"]])
    np.testing.assert_array_equal(clone(x), layer(x))
    rebuilt = registry.deserialize(registry.serialize(layer))
    assert type(rebuilt) is Hashing and rebuilt.get_config() == config
    assert registry.get_class("Hashing") is lm.layers.Hashing is Hashing


@pytest.mark.parametrize("kwargs, match", [
    ({"num_bins": 0}, "Hashing 'bad': expected `num_bins` to be an int >= 1, received 0"),
    ({"num_bins": None}, "expected `num_bins`"),
    ({"num_bins": 3, "output_mode": "tf_idf"}, "expected `output_mode` in"),
    ({"num_bins": 3, "salt": [1, 2, 3]}, "expected `salt` to be an int or a pair of ints"),
    ({"num_bins": 3, "salt": "x"}, "received 'x'"),
    ({"num_bins": 3, "dtype": "float32"}, "expected `dtype` 'int32' or 'int64'"),
    ({"num_bins": 3, "output_mode": "one_hot", "sparse": True}, "expected `sparse=False`")])
def test_hashing_bad_arguments_name_the_layer(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        Hashing(name="bad", **kwargs)


def test_hashing_bad_inputs_name_the_layer():
    with pytest.raises(ArgumentTypeError, match="Hashing 'h': expected strings or integers"):
        Hashing(3, name="h")(np.array([1.5j]))
    with pytest.raises(ArgumentTypeError, match="received None of type NoneType"):
        Hashing(3, name="h")(np.array(["a", None], dtype=object))
    with pytest.raises(InputSpecError, match="`mask_value=''` cannot be compared"):
        Hashing(3, mask_value="", name="h")(np.array([1, 2]))


def test_hashing_refuses_traced_inputs():
    import jax

    layer = Hashing(3, name="h")
    with pytest.raises(UsageError, match="Layer 'h' \\(Hashing\\) runs on the host"):
        jax.jit(layer)(np.array([1, 2]))


# -- HashedCrossing -------------------------------------------------------------------------
def test_hashed_crossing_reproduces_the_keras_docstring_examples():
    feat1, feat2 = np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102])
    out = HashedCrossing(num_bins=5)((feat1, feat2))
    np.testing.assert_array_equal(out, [1, 4, 1, 1, 3])
    assert out.dtype == np.int64
    one_hot = HashedCrossing(num_bins=5, output_mode="one_hot")((feat1, feat2))
    np.testing.assert_array_equal(one_hot, np.eye(5, dtype=np.float32)[[1, 4, 1, 1, 3]])
    assert one_hot.dtype == np.float32


@pytest.mark.parametrize("case", REFERENCE["hashed_crossing"],
                         ids=lambda c: f"{c['config']}-{len(c['inputs'])}")
def test_hashed_crossing_equals_keras_with_tensorflow(case):
    features = [_decode(f) for f in case["inputs"]]
    layer = HashedCrossing(**case["config"])
    expected = np.array(case["output"])
    out = layer(tuple(features))
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(layer([f.tolist() for f in features]), expected)
    spec_shape, _ = layer.host_output_spec([f.shape for f in features], "int64")
    assert spec_shape == expected.shape


def test_hashed_crossing_config_round_trip_and_registry():
    layer = HashedCrossing(num_bins=7, output_mode="one_hot", name="cross")
    config = layer.get_config()
    assert HashedCrossing.from_config(config).get_config() == config
    rebuilt = registry.deserialize(registry.serialize(layer))
    assert type(rebuilt) is HashedCrossing and rebuilt.get_config() == config
    assert registry.get_class("HashedCrossing") is lm.layers.HashedCrossing


@pytest.mark.parametrize("inputs, match", [
    (np.array([1, 2]), "expected a list or tuple of at least two features, received ndarray"),
    ([np.array([1, 2])], "expected a list or tuple of at least two features, received 1 "
                         "feature\\(s\\)"),
    ([np.zeros((2, 2), int), np.zeros((2, 2), int)], "expected features of shape \\(\\), "
                                                     "\\(batch,\\) or \\(batch, 1\\)"),
    ([np.array([1, 2]), np.array([1, 2, 3])], "expected features of equal shape"),
    ([np.array([1.0, 2.0]), np.array([1, 2])], "expected integer or string features, "
                                               "received dtype float64")])
def test_hashed_crossing_bad_inputs_name_the_layer(inputs, match):
    with pytest.raises(InputSpecError, match="HashedCrossing 'cross': " + match):
        HashedCrossing(5, name="cross")(inputs)


@pytest.mark.parametrize("kwargs, match", [
    ({"num_bins": 0}, "expected `num_bins` to be an int >= 1"),
    ({"num_bins": 3, "output_mode": "count"}, "expected `output_mode` in \\('int', 'one_hot'\\)"),
    ({"num_bins": 3, "sparse": True}, "expected `sparse=False`")])
def test_hashed_crossing_bad_arguments_name_the_layer(kwargs, match):
    with pytest.raises(ConfigurationError, match="HashedCrossing 'c': " + match):
        HashedCrossing(name="c", **kwargs)


def test_hashing_and_crossing_lead_models_that_fit_predict_and_save(tmp_path, recwarn):
    """Host hashing layers at a model's inputs: the model hashes raw strings itself, equal to a
    twin model fed the hashes made in the data pipeline, and the reload predicts the same."""
    words = np.array([["red"], ["green"], ["blue"], ["red"]])
    counts = np.array([[1], [2], [3], [4]])
    y = np.array([[0.0], [1.0], [2.0], [0.5]], "float32")
    text = lm.Input(shape=(1,), dtype="string")
    number = lm.Input(shape=(1,), dtype="int64")
    embed = lm.layers.Embedding(16, 3)
    dense = lm.layers.Dense(1)
    hashed = Hashing(num_bins=16)(text)
    crossed = HashedCrossing(num_bins=4, output_mode="one_hot")((text, number))
    merged = lm.layers.Concatenate()([lm.layers.Flatten()(embed(hashed)), crossed])
    model = lm.Model([text, number], dense(merged))
    twin_h, twin_c = lm.Input(shape=(1,), dtype="int32"), lm.Input(shape=(4,))
    twin = lm.Model([twin_h, twin_c], dense(lm.layers.Concatenate()(
        [lm.layers.Flatten()(embed(twin_h)), twin_c])))
    pipeline = [Hashing(num_bins=16)(words),
                HashedCrossing(num_bins=4, output_mode="one_hot")((words, counts))]
    np.testing.assert_array_equal(model.predict([words, counts], verbose=0),
                                  twin.predict(pipeline, verbose=0))
    model.compile(optimizer="sgd", loss="mse")
    model.fit([words, counts], y, epochs=2, verbose=0)
    predicted = model.predict([words, counts], verbose=0)
    np.testing.assert_array_equal(predicted, twin.predict(pipeline, verbose=0))
    model.save(tmp_path / "hashing.lamina")
    loaded = lm.models.load_model(tmp_path / "hashing.lamina")
    np.testing.assert_array_equal(loaded.predict([words, counts], verbose=0), predicted)
    assert not [w for w in recwarn if "dtype int64" in str(w.message)]
