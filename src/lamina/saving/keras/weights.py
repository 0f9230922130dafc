"""Setting an imported layer's weights from the `model.weights.h5` member of a Keras 3 file.

Keras saves a layer's variables as datasets `vars/0`, `vars/1`, ... (in creation order) in
the layer's group, and those of the layers it holds in groups named after the attributes
holding them (`keras_layers.weight_groups`). No HDF5 attribute is read (Keras writes the
layer name on each `vars` group, as a variable-length string whose bytes live in the file's
global heap; a damaged heap can hang HDF5), so the weights are matched to layers by path,
count and shape.

`importer` arguments are the `keras_import._Importer` reading the file: its `path` names the
file in messages and `h5` is the checked `keras_files._WeightsFile`.
"""
import numpy as np

from lamina.errors import SavingError
from lamina.saving.keras.files import WEIGHTS
from lamina.saving.keras.layers import weight_groups


def _set_weights(importer, group_path, keras_name, layer):
    weights = layer.weights
    where = f"'{importer.path}': member '{WEIGHTS}': group '/{group_path}' (layer '{keras_name}')"
    expected, groups = [], weight_groups(layer)
    for group in groups:
        vars_path = f"{group_path}/{group}"
        found = sorted((p for p in importer.h5.datasets if p.startswith(vars_path + "/")
                        and "/" not in p[len(vars_path) + 1:]),
                       key=lambda p: (len(p), p))
        names = [f"{vars_path}/{i}" for i in range(len(found))]
        if found != names:
            raise SavingError(f"{where}: group '/{vars_path}' holds the datasets "
                              f"{[p[len(vars_path) + 1:] for p in found]}; expected "
                              "0, 1, 2, ... (the file does not match its config).")
        expected += names
    if len(expected) != len(weights):
        raise SavingError(f"{where} holds {len(expected)} weight(s) in "
                          f"{', '.join(f'/{group_path}/{g}' for g in groups)}; lamina's "
                          f"{type(layer).__name__} has {len(weights)} "
                          f"({[v.name for v in weights]}). The file does not match its "
                          "config.")
    values = []
    for variable, obj_path in zip(weights, expected, strict=True):
        value = importer.h5.read(obj_path)
        if tuple(value.shape) != tuple(variable.shape):
            raise SavingError(f"'{importer.path}': member '{WEIGHTS}': dataset '/{obj_path}' "
                              f"has shape {tuple(value.shape)}; '{variable.path}' needs "
                              f"{tuple(variable.shape)}.")
        with np.errstate(over="ignore", invalid="ignore"):
            values.append(value.astype(np.dtype(variable.dtype), copy=False))
    if values:
        layer.set_weights(values)
