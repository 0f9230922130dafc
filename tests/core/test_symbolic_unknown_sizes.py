"""Unknown (None) image sizes stay None through strided layers, as in Keras: the symbolic
shapes are traced with two stand-in sizes, which strided convolutions and pooling must not
map to the same size (13 and 14 both became 7, and a model on `Input((None, None, 3))`
reported a fixed output size and computed Keras's `correct_pad` from it)."""
import os

import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")


def _chain(lib, strides):
    inp = lib.Input((None, None, 3))
    x = inp
    for stride in strides:
        x = lib.layers.Conv2D(2, 3, strides=stride, padding="same")(x)
        x = lib.layers.ZeroPadding2D(((0, 1), (0, 1)))(x)
        x = lib.layers.DepthwiseConv2D(3, strides=stride, padding="valid")(x)
    return lib.layers.MaxPooling2D(2)(x)


@pytest.mark.parametrize("strides", [(2,), (2, 2, 2), (1, 2, 2)])
def test_strided_layers_keep_unknown_sizes_unknown(strides):
    assert tuple(_chain(lm, strides).shape) == tuple(_chain(keras, strides).shape)
    assert tuple(_chain(lm, strides).shape) == (None, None, None, 2)
