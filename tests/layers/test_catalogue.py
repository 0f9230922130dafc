"""The catalogue is complete: every public layer class is exported, registered for saving,
and run through the generic harness by some family's table."""
import importlib
import inspect
import pathlib

import lamina as lm
from lamina.core import registry

HERE = pathlib.Path(__file__).resolve().parent

# classes checked point by point by explicit tests instead of harness rows, and why
EXPLICIT = {
    "InputLayer": "the graph's input placeholder (tests/core)",
    "SimpleRNNCell": "a cell takes (inputs, states); harnessed inside RNN(cell) rows",
    "LSTMCell": "a cell takes (inputs, states); harnessed inside RNN(cell) rows",
    "GRUCell": "a cell takes (inputs, states); harnessed inside RNN(cell) rows",
    "MultiHeadAttention": "called as (query, value, key): test_attention.py's "
                          "test_multi_head_attention_harness_points checks each harness point",
    "GroupQueryAttention": "called as (query, value): test_group_query_attention.py checks "
                           "training, freezing by flag and by scope, and the round trip",
    "Hashing": "a host layer (numpy, no weights, outside the compiled step): test_hashing.py "
               "checks outputs against TensorFlow's, config and registry round trips",
    "HashedCrossing": "a host layer called on a tuple of features: test_hashing.py checks "
                      "outputs against TensorFlow's, config and registry round trips",
    "StringLookup": "a host layer on text: test_text_reference.py checks outputs and adapt "
                    "against Keras with TensorFlow, test_text_model.py fit, predict and saving",
    "IntegerLookup": "a host layer: test_text_reference.py checks outputs and adapt against "
                     "Keras with TensorFlow, test_text_layers.py the vocabulary API and errors",
    "TextVectorization": "a host layer on text: test_text_reference.py checks outputs against "
                         "Keras with TensorFlow, test_text_model.py fit, predict and saving",
}


def _public_layer_classes():
    return {name: obj for name, obj in vars(lm.layers).items()
            if not name.startswith("_") and inspect.isclass(obj)
            and issubclass(obj, lm.layers.Layer) and obj is not lm.layers.Layer}


def _harnessed_classes():
    covered = set()
    for path in sorted(HERE.glob("test_*.py")):
        module = importlib.import_module(path.stem)
        for case in getattr(module, "HARNESS_CASES", ()):
            covered.add(type(case.make()).__name__)
    return covered


def test_every_layer_class_goes_through_the_harness():
    missing = sorted(set(_public_layer_classes()) - _harnessed_classes() - set(EXPLICIT))
    assert not missing, f"layers without harness rows: {missing}"


def test_every_layer_class_is_registered_for_saving_under_its_name():
    for name, cls in _public_layer_classes().items():
        assert registry.get_class(name) is cls, name


def test_the_catalogue_has_the_keras_names_the_issue_lists():
    expected = """Conv1D Conv2D Conv3D Conv2DTranspose DepthwiseConv2D SeparableConv2D
    MaxPooling1D MaxPooling2D AveragePooling1D AveragePooling2D GlobalAveragePooling1D
    GlobalAveragePooling2D GlobalMaxPooling1D GlobalMaxPooling2D LayerNormalization
    GroupNormalization UnitNormalization BatchNormalization Embedding Masking SimpleRNN LSTM
    GRU Bidirectional TimeDistributed MultiHeadAttention Attention Add Subtract Multiply
    Average Maximum Minimum Concatenate Dot Reshape Permute RepeatVector Flatten
    UpSampling1D UpSampling2D ZeroPadding1D ZeroPadding2D Cropping1D Cropping2D ReLU LeakyReLU
    PReLU ELU Softmax Dropout SpatialDropout1D SpatialDropout2D GaussianNoise GaussianDropout
    AlphaDropout ActivityRegularization Rescaling Normalization Identity Lambda Dense
    Activation""".split()
    assert sorted(set(expected) - set(_public_layer_classes())) == []
