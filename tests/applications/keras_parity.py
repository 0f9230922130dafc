"""What the application tests of VGG16, ResNet50V2, Xception and DenseNet share: a Keras 3
model of the family with random weights (every weight drawn, so a weight loaded into the wrong
layer or slot changes the predictions), written in Keras 3's `.weights.h5` format and in the
layer-keyed legacy HDF5 layout `keras.applications` downloads, then loaded into lamina's model
of the same configuration and compared."""
import numpy as np

import lamina as lm

RNG_SEED = 0


def keras_model(keras, constructor, **kwargs):
    """Keras's `keras.applications.<constructor>(weights=None, **kwargs)`, built after
    Keras's name counters are reset (lamina's are reset per test), with every weight
    redrawn near its initial scale: BatchNormalization's statistics and scales away from
    0 and 1, biases away from 0."""
    keras.utils.clear_session()
    model = getattr(keras.applications, constructor)(weights=None, **kwargs)
    rng = np.random.default_rng(RNG_SEED)
    for variable in model.weights:
        shape, name = tuple(variable.shape), variable.path.rsplit("/", 1)[-1]
        if name in {"gamma", "moving_variance"}:
            value = rng.uniform(0.8, 1.2, shape)
        elif name in {"beta", "moving_mean", "bias"}:
            value = rng.uniform(-0.1, 0.1, shape)
        else:
            value = np.asarray(variable) * rng.uniform(0.9, 1.1, shape)
        variable.assign(value.astype("float32"))
    return model


def save_keras3(model, path):
    """Keras 3's `.weights.h5` file of `model`."""
    model.save_weights(path)
    return path


def save_legacy(model, path):
    """The layer-keyed legacy HDF5 weights file of `model`, written by Keras's own writer
    (the layout of the files `keras.applications` downloads)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def images(shape, n=2):
    """`n` RGB images in [0, 255]."""
    return np.random.default_rng(1).uniform(0, 255, (n, *shape)).astype("float32")


def counts(model):
    return (model.count_params(),
            sum(int(np.prod(v.shape)) for v in model.trainable_weights),
            sum(int(np.prod(v.shape)) for v in model.non_trainable_weights))


def check_same_model(model, kmodel):
    """Same layer names in the same order, the same weight shapes, parameter counts and
    output shape."""
    assert [layer.name for layer in model.layers] == [layer.name for layer in kmodel.layers]
    assert ([tuple(w.shape) for w in model.weights]
            == [tuple(w.shape) for w in kmodel.weights])
    assert counts(model) == counts(kmodel)
    assert tuple(model.output.shape) == tuple(kmodel.output.shape)


def check_loads(constructor, kmodel, path, x, **kwargs):
    """lamina's `constructor(weights=path, **kwargs)` is Keras's model: same structure, same
    predictions on `x` (atol 1e-4)."""
    lm.reset_names()
    model = constructor(weights=str(path), **kwargs)
    check_same_model(model, kmodel)
    expected = np.asarray(kmodel.predict(x, verbose=0))
    got = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    return model


class _Requested(Exception):
    """Raised by the stand-in downloaders with the file a constructor asked for."""


def _stand_in(fname, origin, **kwargs):
    raise _Requested((fname, origin, kwargs.get("file_hash")))


def requested_files(keras, monkeypatch, keras_constructor, constructor, **kwargs):
    """(fname, origin, hash) that Keras's and lamina's constructors ask the downloader for
    with `weights="imagenet"` and `kwargs` (the download replaced by a stand-in: no
    network)."""
    from keras.src.utils import file_utils

    import lamina.applications.weights as lamina_weights

    monkeypatch.setattr(file_utils, "get_file", _stand_in)
    monkeypatch.setattr(lamina_weights, "get_file", _stand_in)
    found = []
    for build in (getattr(keras.applications, keras_constructor), constructor):
        try:
            build(weights="imagenet", **kwargs)
        except _Requested as request:
            found.append(request.args[0])
    return found
