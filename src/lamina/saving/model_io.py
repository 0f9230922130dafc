"""save_model / load_model / save_weights / load_weights over the lamina archive.

An archive holds `config.json` (the model config in Keras's shape, the trainability state:
every layer's and variable's own flag and every scoped freeze, and the compile
configuration), `model.safetensors` (every variable, keyed by its path in the model) and,
for compiled models, `optimizer.safetensors` (the optimizer state, keyed the same way).
"""
import json
import re

import jax
import numpy as np

from lamina.core import allocation, registry, trainability_version, tree
from lamina.core import rng as lrandom
from lamina.core.arrays import to_array
from lamina.errors import SavingError
from lamina.saving import archive, compile_config, tensors
from lamina.saving.keras.compile_import import compile_imported
from lamina.saving.keras.exporter import load_keras_weights, save_keras_model, save_keras_weights
from lamina.saving.keras.files import is_keras_file
from lamina.saving.keras.importer import load_keras_model
from lamina.saving.keras.legacy_h5 import save_legacy_h5
from lamina.saving.keras.legacy_weights import load_legacy_weights
from lamina.training import opt_state as opt_state_lib
from lamina.training import step as step_lib
from lamina.training import step_optimizers

CONFIG, WEIGHTS, OPTIMIZER = "config.json", "model.safetensors", "optimizer.safetensors"
MODEL_MEMBERS = {CONFIG, WEIGHTS, OPTIMIZER}
MAX_TENSOR_BYTES = 1 << 40  # bounded in practice by the file size
# what a well-formed JSON config with wrong types or values makes constructors raise
CONFIG_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError,
                 RecursionError)


# -- trainability ------------------------------------------------------------------------
def trainability_config(model):
    """The complete trainability state of `model`, keyed by path in the model: every
    layer's and variable's own flag, and the scoped freezes of every container (an empty
    list for a container without any, so a restore can tell "none" from "not recorded")."""
    layers = tree.layer_paths(model)
    path_of = {id(layer): path for path, layer in layers.items()}
    return {
        "layer_flags": {path: layer.trainable for path, layer in layers.items()},
        "variable_flags": {path: v.trainable for path, v in tree.variable_paths(model).items()},
        "freezes": {path: [path_of[id(frozen)] for frozen in layer._scoped_freezes]
                    for path, layer in layers.items()
                    if layer._scoped_freezes or tree.sublayers(layer)},
    }


def apply_trainability(model, config, where):
    """Make `model`'s trainability state the one `config` records: the flags it lists are
    set, and every container's scoped freezes become exactly the recorded ones (a container
    the config does not list had none: files written before empty lists were recorded list
    only the non-empty ones). The change takes effect at the next step (rule 5)."""
    layers, variables = tree.layer_paths(model), tree.variable_paths(model)

    def lookup(table, path, what):
        if path not in table:
            raise SavingError(f"{where}: the config names {what} {path!r}, which the rebuilt "
                              "model does not have.")
        return table[path]

    for path, flag in config["layer_flags"].items():
        lookup(layers, path, "layer").trainable = bool(flag)
    for path, flag in config["variable_flags"].items():
        lookup(variables, path, "variable").trainable = bool(flag)
    freezes = {lookup(layers, path, "layer"): [lookup(layers, p, "layer") for p in frozen]
               for path, frozen in config["freezes"].items()}
    for layer in layers.values():
        layer._scoped_freezes[:] = freezes.get(layer, [])
    trainability_version.bump()  # (freezes are set here directly, not by Model.freeze)


# -- optimizer state ---------------------------------------------------------------------
def _key_name(key, path_of_uid):
    if isinstance(key, jax.tree_util.DictKey):
        return f"[{path_of_uid[key.key]}]" if isinstance(key.key, int) else str(key.key)
    if isinstance(key, jax.tree_util.GetAttrKey):
        return key.name
    if isinstance(key, jax.tree_util.SequenceKey):
        return str(key.idx)
    return str(key)


EXTRA = "extra:"  # key prefix of an extra optimizer's state (training/step_optimizers.py)


def _state_arrays(state, path_of_uid, prefix=""):
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    return {prefix + "/".join(_key_name(k, path_of_uid) for k in keypath): np.asarray(leaf)
            for keypath, leaf in leaves}


def optimizer_arrays(model):
    """The compiled optimizer's state, and each extra optimizer's (a custom step's
    `d_optimizer`, `g_optimizer`, ...) under `extra:<attribute>/`."""
    trainer = model._trainer
    if trainer.opt_state is None:
        return {}
    path_of_uid = {v.uid: p for p, v in tree.variable_paths(model).items()}
    arrays = _state_arrays(trainer.opt_state, path_of_uid)
    for name, state in getattr(trainer, "extra_opt_states", {}).items():
        arrays.update(_state_arrays(state, path_of_uid, f"{EXTRA}{name}/"))
    return arrays


def _split_extra(arrays, trainer, where):
    """(the compiled optimizer's arrays, {extra optimizer: its arrays})."""
    main, extra = {}, {}
    for key, value in arrays.items():
        if key.startswith(EXTRA):
            name, _, rest = key[len(EXTRA):].partition("/")
            extra.setdefault(name, {})[rest] = value
        else:
            main[key] = value
    known = set(step_optimizers.extra_optimizers(trainer))
    if set(extra) - known:
        raise SavingError(f"{where}: the file holds the state of the optimizers "
                          f"{sorted(extra)} kept as model attributes; the model has "
                          f"{sorted(known)}.")
    return main, extra


def restore_optimizer(model, arrays, where):
    trainer = model._trainer
    arrays, extra = _split_extra(arrays, trainer, where)
    variables = tree.variable_paths(model)
    # the saved state covers the variables trained so far, frozen since or not (rule 6
    # keeps their slots); one not trained yet gets its entries at its first step
    saved = {p for name in arrays for p in re.findall(r"\[([^\]]+)\]", name)}
    unknown = sorted(saved - set(variables))
    if unknown:
        raise SavingError(f"{where}: optimizer state for variables {unknown[:5]} that the "
                          "model does not have.")
    resolution = trainer.resolution()
    uids = {variables[p].uid for p in saved}
    trainer.opt_state = opt_state_lib.extend(
        trainer.tx, None, {v.uid: v.value for v in resolution.variables if v.uid in uids})
    trainer._opt_keys = frozenset(uids)
    trainer._plan = None
    path_of_uid = {v.uid: p for p, v in variables.items()}
    def name_of(keypath):
        return "/".join(_key_name(k, path_of_uid) for k in keypath)

    trainer.opt_state = fill_tree(trainer.opt_state, name_of, arrays, where, "optimizer")
    if extra:
        trainer.extra_opt_states = {}
        step_optimizers.extend_states(
            trainer, {v.uid: v.value for v in resolution.variables if v.uid in uids})
        for name, saved_arrays in extra.items():
            trainer.extra_opt_states[name] = fill_tree(
                trainer.extra_opt_states[name], name_of, saved_arrays, where,
                f"optimizer '{name}'")
    trainer._set_learning_rate(trainer.optimizer.learning_rate)


def fill_tree(tree, name_of, arrays, where, what):
    """`tree` with each leaf replaced by `arrays[name_of(keypath)]`, checked strictly: the
    names must match exactly and every array must have its leaf's shape and dtype."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    names = [name_of(keypath) for keypath, _ in flat]
    if set(names) != set(arrays):
        raise SavingError(f"{where}: the saved {what} state does not match the model's "
                          f"(missing {sorted(set(names) - set(arrays))[:5]}, unexpected "
                          f"{sorted(set(arrays) - set(names))[:5]}).")
    leaves = []
    for name, (_, leaf) in zip(names, flat, strict=True):
        value = arrays[name]
        if value.shape != leaf.shape or value.dtype != leaf.dtype:
            raise SavingError(f"{where}: {what} entry {name!r} has shape {value.shape} "
                              f"{value.dtype}, expected {leaf.shape} {leaf.dtype}.")
        leaves.append(to_array(value))
    return jax.tree_util.tree_unflatten(treedef, leaves)


# -- model configs -----------------------------------------------------------------------
def model_config(model):
    config = {"model": registry.serialize(model),
              "build_input_spec": model._build_input_spec,
              "trainability": trainability_config(model),
              "compile": None, "iterations": 0}
    if model._trainer is not None:
        config["compile"] = compile_config.compile_config(model._trainer)
        config["iterations"] = model._trainer.iterations
    return config


def build_model(config, where, weight_bytes):
    """The model described by `config`, built, allocating at most `weight_bytes`."""
    with allocation.budget(weight_bytes + 1024, where), lrandom.preserved():
        try:
            model = registry.deserialize(config["model"])
            spec = config.get("build_input_spec")
            if not model.built and spec is not None:
                specs = jax.tree_util.tree_map(
                    lambda s: jax.ShapeDtypeStruct(tuple(s[0]), np.dtype(s[1])), spec,
                    is_leaf=lambda s: isinstance(s, list) and len(s) == 2
                    and isinstance(s[1], str))
                step_lib.output_spec(model, specs)
        except SavingError:
            raise
        except CONFIG_ERRORS as err:
            raise SavingError(f"{where}: the model config cannot be rebuilt: "
                              f"{type(err).__name__}: {err}.") from err
    return model


def assign_weights(model, arrays, where, skip_mismatch=False):
    """Set variables from `arrays` (path -> array); returns the mismatch report."""
    variables = tree.variable_paths(model)
    report = {"missing": sorted(set(variables) - set(arrays)),
              "unexpected": sorted(set(arrays) - set(variables)),
              "mismatched": sorted(p for p in set(variables) & set(arrays)
                                   if tuple(arrays[p].shape) != variables[p].shape
                                   or arrays[p].dtype != variables[p].dtype)}
    if any(report.values()) and not skip_mismatch:
        details = "; ".join(f"{k}: {v}" for k, v in report.items() if v)
        raise SavingError(f"{where}: the weights do not match model '{model.name}' ({details}). "
                          "Pass skip_mismatch=True to load the matching ones.")
    for path, variable in variables.items():
        if path in arrays and path not in report["mismatched"]:
            variable._value = to_array(arrays[path])
    return report


# -- public functions --------------------------------------------------------------------
def model_members(model, config=None):
    """The archive members of `model`: config, weights and (if any) optimizer state."""
    config = model_config(model) if config is None else config
    members = {CONFIG: json.dumps(config, indent=1).encode(),
               WEIGHTS: tensors.encode({p: np.asarray(v._value)
                                        for p, v in tree.variable_paths(model).items()})}
    if model._trainer is not None and model._trainer.opt_state is not None:
        members[OPTIMIZER] = tensors.encode(optimizer_arrays(model))
    return members


def _suffix(path):
    name = str(path).lower()
    for suffix in (".weights.h5", ".keras", ".h5", ".hdf5"):
        if name.endswith(suffix):
            return suffix
    return None


def save_model(model, path):
    """Write `model` by the file name: a `.keras` name gets a Keras 3 file
    (`keras.exporter`), a `.h5` / `.hdf5` name Keras's legacy HDF5 model file
    (`keras.legacy_h5`, uncompiled), a `.weights.h5` name is refused (it is for
    `save_weights`); any other name (`.lamina` by convention) gets lamina's archive with
    architecture, weights, flags, freezes, compile and optimizer state."""
    suffix = _suffix(path)
    if suffix == ".keras":
        save_keras_model(model, path)
    elif suffix == ".weights.h5":
        raise SavingError(
            f"Cannot save model '{model.name}' to '{path}': a '.weights.h5' name is for "
            "save_weights. Use '.keras' (Keras 3), '.h5' (Keras's legacy HDF5) or '.lamina'.")
    elif suffix is not None:
        save_legacy_h5(model, path)
    else:
        archive.write(path, model_members(model))


def read_model(path, allowed=MODEL_MEMBERS):
    """(model, members) from an archive: the rebuilt, weighted, compiled model."""
    where = f"'{path}'"
    _, members = archive.read(path, allowed, {name: MAX_TENSOR_BYTES for name in allowed
                                              if name.endswith(".safetensors")})
    for name in (CONFIG, WEIGHTS):
        if name not in members:
            raise SavingError(f"{where}: the archive has no {name!r} member.")
    config = archive.parse_json(path, CONFIG, members[CONFIG])
    if not isinstance(config, dict) or not {"model", "trainability"} <= set(config):
        raise SavingError(f"{where}: {CONFIG} is not a lamina model config.")
    weights = tensors.decode(members[WEIGHTS], f"{where}, member {WEIGHTS!r}")
    model = build_model(config, where, tensors.total_bytes(members[WEIGHTS]))
    assign_weights(model, weights, f"{where}, member {WEIGHTS!r}")
    try:
        apply_trainability(model, config["trainability"], where)
        if config.get("compile") is not None:
            compile_config.compile_from_config(model, config["compile"], where)
            model._trainer.iterations = int(config.get("iterations", 0))
        if OPTIMIZER in members:
            if model._trainer is None:
                raise SavingError(f"{where}: optimizer state without a compile config.")
            arrays = tensors.decode(members[OPTIMIZER], f"{where}, member {OPTIMIZER!r}")
            restore_optimizer(model, arrays, f"{where}, member {OPTIMIZER!r}")
    except SavingError:
        raise
    except CONFIG_ERRORS as err:
        raise SavingError(f"{where}: the config cannot be applied: {type(err).__name__}: "
                          f"{err}.") from err
    return model, members


def load_model(path):
    """The model saved at `path` by `save_model`, or imported from a Keras 3 `.keras` file
    (compiled when the file holds a compile config, as Keras's `load_model` does)."""
    with archive.naming_file(path):
        with archive.open_regular(path) as f:
            keras = is_keras_file(f)
            f.seek(0)
            hdf5 = f.read(8) == b"\x89HDF\r\n\x1a\n"
        if keras:
            return compile_imported(load_keras_model(path), path)
        if hdf5:
            raise SavingError(
                f"'{path}' is an HDF5 file (Keras's legacy .h5 model format), which lamina does "
                "not read. Open it with keras.models.load_model and save it as '.keras'; "
                "lamina imports that.")
        return read_model(path)[0]


def save_weights(model, path):
    """Write only the variables, atomically: Keras 3's HDF5 layout for a `.weights.h5` name
    (read by Keras's `load_weights`), a refusal for other `.h5` names (Keras 3 names its
    weights files `.weights.h5`), safetensors keyed by path in the model otherwise."""
    suffix = _suffix(path)
    if suffix == ".weights.h5":
        save_keras_weights(model, path)
        return
    if suffix is not None:
        raise SavingError(
            f"Cannot save the weights of model '{model.name}' to '{path}': a weights file "
            f"named {suffix!r} would be Keras's legacy HDF5 format, which lamina does not "
            "write. Name it '<name>.weights.h5' (Keras 3's weights format) or use another "
            "name for lamina's safetensors weights.")
    archive.write_bytes(path, tensors.encode({p: np.asarray(v._value)
                                              for p, v in tree.variable_paths(model).items()}))


def load_weights(model, path, skip_mismatch=False):
    """Set the model's variables from a `save_weights` file, a Keras 3 `.weights.h5` file or
    (other `.h5` / `.hdf5` names) Keras's legacy layer-keyed HDF5 weights, matched by layer
    order as Keras does; returns the mismatch report (dict with "missing", "unexpected",
    "mismatched" paths)."""
    where = f"'{path}'"
    with archive.naming_file(path):
        suffix = _suffix(path)
        if suffix == ".weights.h5":
            return load_keras_weights(model, path, skip_mismatch)
        if suffix in {".h5", ".hdf5"}:
            return load_legacy_weights(model, path, skip_mismatch)
        data = archive.read_bytes(path)
        return assign_weights(model, tensors.decode(data, where), where, skip_mismatch)
