"""Adapter-only files: `Model.save_lora_weights` / `load_lora_weights`.

The file is a lamina archive (`saving/archive.py`: stored zip, SHA-256 per member, atomic
write) with two members: `lora.json` (per LoRA layer, by use path: class, rank, alpha, the
base weight's path, shape, dtype and SHA-256) and `adapters.safetensors` (the adapters,
keyed `<layer path>/<adapter name>`). Loading checks every layer against the model before it
changes anything, so adapters never land on the wrong base silently.
"""
import hashlib
import json
import math

import numpy as np

from lamina.errors import SavingError
from lamina.models.lora import lora_layers
from lamina.saving import archive, tensors

KIND = "lora_adapters"
CONFIG, ADAPTERS = "lora.json", "adapters.safetensors"


def _base_entry(layer):
    base = getattr(layer, layer._lora_base)
    value = np.ascontiguousarray(np.asarray(base.value))
    return {"base": base.path, "base_shape": list(base.shape), "base_dtype": str(value.dtype),
            "base_sha256": hashlib.sha256(value.tobytes()).hexdigest()}


def save(model, filepath):
    layers = [(path, layer) for path, layer in lora_layers(model) if layer.lora_enabled]
    if not layers:
        raise SavingError(f"Model '{model.name}': save_lora_weights found no layer with LoRA "
                          f"enabled; nothing to write to '{filepath}'.")
    entries, arrays = {}, {}
    for path, layer in layers:
        entries[path] = {"class": type(layer).__name__, "rank": layer.lora_rank,
                         "alpha": layer.lora_alpha, **_base_entry(layer)}
        for adapter in layer._lora[:2]:
            arrays[f"{path}/{adapter.name}"] = np.asarray(adapter.value)
    members = {CONFIG: json.dumps({"layers": entries}, indent=1).encode(),
               ADAPTERS: tensors.encode(arrays)}
    archive.write(filepath, members, {"kind": KIND})


def _read(model, filepath):
    budget = 2 * sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in model.weights)
    metadata, members = archive.read(filepath, {CONFIG, ADAPTERS},
                                     {ADAPTERS: budget + 2**20})
    if metadata.get("kind") != KIND or set(members) != {CONFIG, ADAPTERS}:
        raise SavingError(f"'{filepath}' is not a LoRA adapter file (written by "
                          "save_lora_weights); load whole models with lamina.models.load_model.")
    config = archive.parse_json(filepath, CONFIG, members[CONFIG])
    if not isinstance(config, dict) or not isinstance(config.get("layers"), dict):
        raise SavingError(f"'{filepath}': {CONFIG} has no 'layers' table.")
    return config["layers"], tensors.decode(members[ADAPTERS], f"'{filepath}', {ADAPTERS}")


def _check_layer(filepath, path, entry, layer, check_base):
    def fail(why):
        raise SavingError(f"'{filepath}': the adapters for layer '{path}' do not fit this model: "
                          f"{why}")

    if not isinstance(entry, dict):
        fail("its entry in lora.json is not an object.")
    rank = entry.get("rank")
    if not isinstance(rank, int) or isinstance(rank, bool) or rank <= 0:
        fail(f"expected a positive integer rank, the file has {rank!r}.")
    if layer is None:
        fail("the model has no layer at that use path that supports LoRA.")
    current = _base_entry(layer)
    for key, what in (("base_shape", "shape"), ("base_dtype", "dtype")):
        if entry.get(key) != current[key]:
            fail(f"expected a base weight of {what} {entry.get(key)}, the model's "
                 f"'{current['base']}' has {current[key]}.")
    if check_base and entry.get("base_sha256") != current["base_sha256"]:
        fail(f"the base weight '{current['base']}' differs from the one the adapters were "
             "trained on (its SHA-256 does not match). Load the matching base model, or pass "
             "check_base=False to load them anyway.")
    alpha = entry.get("alpha")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not alpha > 0:
        fail(f"expected a positive number alpha, the file has {alpha!r}.")
    if layer.lora_enabled and layer.lora_rank != rank:
        fail(f"LoRA is enabled there with rank {layer.lora_rank}, the file has rank {rank}.")
    shape = current["base_shape"]
    return {layer._lora_names[0]: tuple(shape[:-1]) + (rank,),
            layer._lora_names[1]: (rank, shape[-1])}


def load(model, filepath, check_base=True):
    entries, arrays = _read(model, filepath)
    by_path = dict(lora_layers(model))
    shapes = {f"{path}/{name}": shape for path, entry in entries.items()
              for name, shape in _check_layer(filepath, path, entry, by_path.get(path),
                                              check_base).items()}
    missing = [path for path, layer in by_path.items()
               if layer.lora_enabled and path not in entries]
    if missing:
        raise SavingError(f"'{filepath}' has no adapters for the LoRA layers {missing} of model "
                          f"'{model.name}'; expected adapters for every layer with LoRA enabled.")
    if set(arrays) != set(shapes):
        raise SavingError(f"'{filepath}': expected adapter tensors {sorted(shapes)}, the file "
                          f"holds {sorted(arrays)}.")
    for key, shape in shapes.items():
        if tuple(arrays[key].shape) != shape:
            raise SavingError(f"'{filepath}': adapter '{key}' has shape "
                              f"{tuple(arrays[key].shape)}, expected {shape}.")
    for path, entry in entries.items():
        layer = by_path[path]
        if not layer.lora_enabled:
            layer.enable_lora(entry["rank"], entry.get("alpha"))
        for adapter in layer._lora[:2]:
            adapter.assign(arrays[f"{path}/{adapter.name}"].astype(adapter.dtype))
