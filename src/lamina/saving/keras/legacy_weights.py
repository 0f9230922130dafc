"""Reading Keras's legacy layer-keyed HDF5 weights (`model.load_weights("x.h5")`): the
files `keras.applications` downloads (Keras 2's `save_weights` layout) and the
`model_weights` group of a legacy `.h5` model file.

The layout: the attribute `layer_names` lists the layers; each layer's group lists its
datasets in the attribute `weight_names`, in Keras's legacy order (the layer's trainable
weights, then its non-trainable ones). As Keras 3's
`legacy_h5_format.load_weights_from_hdf5_group` does, weights are matched **by order**, not
by name: the k-th saved layer that has weights goes to the k-th layer of `model.layers` that
has weights (the published files' layer names, such as `conv1_conv`, still equal lamina's
for the applications, but a renamed layer loads as in Keras).

Safety: the file is read into memory and checked whole by `files._WeightsFile` (no links,
external storage, filters that expand, or datasets declaring more bytes than the file
holds). The two name attributes are read only when they are one-dimensional lists of
strings (fixed-length, as h5py 2 wrote Keras 2's files, or variable-length, as Keras 3
writes them now) within `MAX_NAMES_BYTES`. Loading is all or nothing unless
`skip_mismatch`.
"""
import math
import warnings

import numpy as np

from lamina.core.arrays import to_array
from lamina.errors import SavingError
from lamina.models.model import Model
from lamina.saving import archive
from lamina.saving.keras.export_objects import is_default_trainable
from lamina.saving.keras.files import _H5_ERRORS, _WeightsFile
from lamina.saving.keras.importer import DEFAULT_MAX_WEIGHTS_BYTES

MAX_NAMES_BYTES = 1 << 20  # per name attribute (HDF5 keeps attributes under 64 KiB anyway)
MAX_CHUNKS = 1024  # Keras splits a long name list into `layer_names0`, `layer_names1`, ...


def legacy_weights(layer):
    """Keras's `_legacy_weights(layer)`: the layer's trainable weights, then the others, by
    each variable's own Keras role (a nested model lists those of all its layers)."""
    variables = _all_variables(layer)
    return ([v for v in variables if is_default_trainable(v)]
            + [v for v in variables if not is_default_trainable(v)])


def _all_variables(layer):
    if isinstance(layer, Model):
        return [v for sub in layer.layers for v in _all_variables(sub)]
    return list(layer.weights)


def load_legacy_weights(model, path, skip_mismatch=False):
    """Set `model`'s weights from a legacy layer-keyed HDF5 file; returns the mismatch report
    ("mismatched" lists the variables skipped when `skip_mismatch`)."""
    data = archive.read_bytes(path)
    if len(data) > DEFAULT_MAX_WEIGHTS_BYTES:
        raise SavingError(f"'{path}': {len(data)} bytes, more than the "
                          f"{DEFAULT_MAX_WEIGHTS_BYTES} a weights file may hold.")
    h5 = _WeightsFile(str(path), data, member=None)
    report = {"missing": [], "unexpected": [], "mismatched": []}
    before = [(variable, variable._value) for variable in model.weights]
    try:
        root = _root(h5)
        saved = _saved_layers(h5, root)
        layers = [layer for layer in model.layers if legacy_weights(layer)]
        if len(saved) != len(layers):
            raise SavingError(
                f"'{path}': the file holds weights for {len(saved)} layers "
                f"({_names_excerpt([name for name, _ in saved])}); model '{model.name}' has "
                f"{len(layers)} layers with weights "
                f"({_names_excerpt([layer.name for layer in layers])}). Layers are matched "
                "by order, as in Keras: build the model with the configuration the file was "
                "saved from.")
        for k, ((name, datasets), layer) in enumerate(zip(saved, layers, strict=True)):
            where = f"'{path}': layer #{k} ('{layer.name}' in model '{model.name}', " \
                    f"'{name}' in the file)"
            _load_layer(h5, where, datasets, legacy_weights(layer), skip_mismatch, report)
        _check_top_level(h5, root, path, model)
    except BaseException:
        for variable, value in before:
            variable._value = value
        raise
    finally:
        h5.close()
    return report


def _root(h5):
    """The group holding `layer_names`: the file's root, or `model_weights` in a model
    file."""
    if not _has_names(h5, h5.groups[""], "layer_names") and "model_weights" in h5.groups:
        return "model_weights"
    return ""


def _saved_layers(h5, root):
    """[(layer name, [dataset paths])] of the saved layers that hold weights."""
    found = []
    for name in _names(h5, root, "layer_names"):
        group_path = f"{root}/{name}" if root else name
        if group_path not in h5.groups:
            h5.fail(group_path, "is listed in 'layer_names' but the file has no such group.")
        datasets = [f"{group_path}/{weight}" for weight in
                    _names(h5, group_path, "weight_names")]
        for dataset in datasets:
            if dataset not in h5.datasets:
                h5.fail(dataset, "is listed in 'weight_names' but the file has no such "
                        "dataset.")
        if datasets:
            found.append((name, datasets))
    return found


def _load_layer(h5, where, datasets, variables, skip_mismatch, report):
    if len(datasets) != len(variables):
        raise SavingError(
            f"{where}: the file holds {len(datasets)} weight(s) "
            f"({[d.rsplit('/', 1)[-1] for d in datasets]}); the layer expects "
            f"{len(variables)} ({[v.path for v in variables]}).")
    for variable, dataset in zip(variables, datasets, strict=True):
        value = h5.read(dataset)
        if tuple(value.shape) != tuple(variable.shape):
            message = (f"{where}: weight '{variable.path}' expects shape "
                       f"{tuple(variable.shape)}, the file's '/{dataset}' has shape "
                       f"{tuple(value.shape)}.")
            if not skip_mismatch:
                raise SavingError(message + " Pass skip_mismatch=True to load the others.")
            warnings.warn(message + " Skipped (skip_mismatch=True).", stacklevel=4)
            report["mismatched"].append(variable.path)
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            variable._value = to_array(value.astype(np.dtype(variable.dtype), copy=False))


def _check_top_level(h5, root, path, model):
    """Keras 3 adds a `top_level_model_weights` group for a model's own variables; lamina's
    models hold none, so it must be empty."""
    group_path = f"{root}/top_level_model_weights" if root else "top_level_model_weights"
    if group_path in h5.groups and _names(h5, group_path, "weight_names"):
        raise SavingError(f"'{path}': the file holds top-level weights of a subclassed model "
                          f"(in '/{group_path}'); model '{model.name}' has none.")


def _has_names(h5, group, name):
    try:
        return name in group.attrs or f"{name}0" in group.attrs
    except _H5_ERRORS as err:
        h5.fail(group.name.lstrip("/"), f"has attributes that cannot be listed: {err}.")


def _names(h5, group_path, name):
    """The strings of the attribute `name` (or its chunks `name0`, `name1`, ...)."""
    group = h5.groups[group_path]
    if name in group.attrs:
        return _read_names(h5, group_path, group, name)
    names, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        if chunk >= MAX_CHUNKS:
            h5.fail(group_path, f"splits '{name}' into more than {MAX_CHUNKS} attributes.")
        names += _read_names(h5, group_path, group, f"{name}{chunk}")
        chunk += 1
    return names


def _read_names(h5, group_path, group, attribute):
    try:
        attr = h5.h5py.h5a.open(group.id, attribute.encode())
        dtype, shape = attr.dtype, attr.shape
    except _H5_ERRORS as err:
        h5.fail(group_path, f"has an attribute '{attribute}' that cannot be opened: {err}.")
    if shape == (0,):  # an empty list (h5py stores it as float64)
        return []
    if h5.h5py.check_string_dtype(dtype) is None or len(shape) > 1:
        h5.fail(group_path, f"has an attribute '{attribute}' of type {dtype} and shape "
                f"{shape}; Keras writes a list of byte strings.")
    if math.prod(shape) * max(dtype.itemsize, 1) > MAX_NAMES_BYTES:
        h5.fail(group_path, f"has an attribute '{attribute}' of {math.prod(shape)} names, "
                f"more than {MAX_NAMES_BYTES} bytes; refused.")
    try:
        values = [v.decode("utf8") if isinstance(v, bytes) else str(v)
                  for v in np.atleast_1d(group.attrs[attribute])]
    except (*_H5_ERRORS, UnicodeDecodeError) as err:
        h5.fail(group_path, f"has an attribute '{attribute}' that cannot be read: {err}.")
    if sum(len(v) for v in values) > MAX_NAMES_BYTES:
        h5.fail(group_path, f"has an attribute '{attribute}' longer than {MAX_NAMES_BYTES} "
                "bytes; refused.")
    return values


def _names_excerpt(names, limit=6):
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... {len(names) - limit} more" if len(names) > limit else "")
