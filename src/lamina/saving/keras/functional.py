"""Rebuilding a Keras 3 functional model from its config: its `layers` list, each layer's
`inbound_nodes` (the calls that produced its outputs, with `keras_history` references to the
tensors they took) and its `input_layers` / `output_layers`.

Layers are called in dependency order, whatever order the file lists them in; a dangling
reference or a cycle is refused. The mask operations Keras records (`not_equal`, `any`) are
checked and skipped: lamina's graph recomputes those masks with the layers' `compute_mask`.

`importer` arguments are the `keras_import._Importer` reading the file: its
`fail(where, message)` raises a `SavingError`; `_child`, `_model_common` and `_layers_list`
build a model's layers and read its common options.
"""
from lamina.core.node import is_symbolic
from lamina.errors import LaminaError, SavingError
from lamina.models.model import Model
from lamina.saving.keras.options import _is_int, _is_number, _Options, _short

# Keras operations a functional model records to compute masks (Embedding(mask_zero=True):
# `not_equal(ids, 0)`; Masking: `any(not_equal(x, mask_value), axis=-1)`): their outputs only
# reach layers as `mask=` arguments, which lamina's graph recomputes with the layers'
# `compute_mask`, so they are checked and skipped
_MASK_OPS = ("NotEqual", "Any")
_OPS_MODULE = "keras.src.ops.numpy"


class _Mask:
    """The output of a skipped mask operation."""


_MASK = _Mask()


def _functional(importer, config, where, h5_path, depth):
    options = _Options(importer, where, config)
    name, trainable = importer._model_common(options)
    entries = importer._layers_list(options)
    input_spec = options.take("input_layers")
    output_spec = options.take("output_layers")
    options.done()
    layers, nodes, order = _read_layers(importer, entries, where, h5_path, depth)
    _call_nodes(importer, layers, nodes, order, where)
    inputs = _tensor_structure(importer, input_spec, "input_layers", where, nodes)
    outputs = _tensor_structure(importer, output_spec, "output_layers", where, nodes)
    try:
        return Model(inputs, outputs, name=name, trainable=trainable)
    except SavingError:
        raise
    except LaminaError as err:
        importer.fail(where, f"lamina cannot build this functional model: {err}")


def _read_layers(importer, entries, where, h5_path, depth):
    """The layers of a functional config: (layers by name, each name's output nodes so far
    (an InputLayer's tensor; mask operations hold none), [(name, inbound nodes)] in order)."""
    layers, nodes, order, used = {}, {}, [], {}
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("module") == _OPS_MODULE:
            key = _mask_op(importer, entry, f"{where}, layer {i}")
            if key in nodes:
                importer.fail(where, f"two layers are named '{key}'.")
            nodes[key] = []
            order.append((key, entry["inbound_nodes"]))
            continue
        layer, class_name = importer._child(entry, f"{where}, layer {i}", h5_path, depth, used)
        key = entry.get("name", layer.name)
        if key != layer.name:
            importer.fail(where, f"layer {i} is listed as {key!r} but configured as "
                          f"'{layer.name}'.")
        if key in nodes:
            importer.fail(where, f"two layers are named '{key}'.")
        inbound = entry.get("inbound_nodes", [])
        if not isinstance(inbound, list):
            importer.fail(where, f"layer '{key}': 'inbound_nodes' must be a list.")
        if class_name == "InputLayer":
            if inbound:
                importer.fail(where, f"InputLayer '{key}' has inbound nodes.")
            nodes[key] = [[layer.output]]
        else:
            nodes[key] = []
        layers[key] = layer
        order.append((key, inbound))
    return layers, nodes, order


def _call_nodes(importer, layers, nodes, order, where):
    """Call every layer on its inbound nodes, in as many passes as the references need (a
    config may list a node before the tensors it reads); `nodes` receives the outputs."""
    pending = {key: list(inbound) for key, inbound in order}
    progress = True
    while progress:
        progress = False
        for key, _ in order:
            while pending[key]:
                node = pending[key][0]
                node_where = f"{where}, layer '{key}', node {len(nodes[key])}"
                if key not in layers:  # a mask operation
                    if _node_inputs(importer, node, node_where, nodes, mask_op=True) is None:
                        break
                    nodes[key].append([_MASK])
                else:
                    call = _node_inputs(importer, node, node_where, nodes,
                                        pipeline=type(layers[key]).__name__ == "Pipeline")
                    if call is None:
                        break
                    nodes[key].append(_call(importer, layers[key], *call, node_where))
                pending[key].pop(0)
                progress = True
    stuck = [key for key, left in pending.items() if left]
    if stuck:
        importer.fail(where, f"the inbound nodes of {stuck} refer to tensors that no layer "
                      "produces (a dangling reference or a cycle).")


def _mask_op(importer, entry, where):
    """The name of a Keras mask operation entry, after checking it is one."""
    class_name = entry.get("class_name")
    config = entry.get("config")
    if (class_name not in _MASK_OPS or entry.get("registered_name") not in (None, class_name)
            or not isinstance(config, dict)):
        importer.fail(where, f"the operation {_OPS_MODULE}.{_short(class_name)} is not "
                      "supported by lamina's Keras import (only the mask operations "
                      f"{', '.join(_MASK_OPS)} are); rebuild this part of the model in lamina.")
    name = config.get("name")
    where = f"operation '{name}' ({class_name})"
    options = _Options(importer, where, config)
    options.take("name")
    if class_name == "Any":
        options.require("axis", [-1], "the mask of the last axis")
        options.require("keepdims", [False], "a (batch, timesteps) mask")
    options.done()
    if not isinstance(name, str) or entry.get("name", name) != name:
        importer.fail(where, "the operation needs one name, in its entry and its config.")
    if not isinstance(entry.get("inbound_nodes"), list):
        importer.fail(where, "'inbound_nodes' must be a list.")
    return name


def _node_inputs(importer, node, where, nodes, mask_op=False, pipeline=False):
    """(positional inputs, keyword arguments) of one inbound node, or None while an input
    is missing. Of a mask operation, only its inputs are checked. A Pipeline's node records
    its own default `training=True`, which Keras overrides with the model's mode, as
    lamina's Pipeline follows it."""
    if isinstance(node, list):
        importer.fail(where, "the inbound node is in the Keras 2 format; lamina imports files "
                      "saved by Keras 3 (load and save the model again with Keras 3).")
    if not isinstance(node, dict):
        importer.fail(where, f"expected an inbound node object, received {type(node).__name__}.")
    args = node.get("args", [])
    kwargs = node.get("kwargs", {})
    if not isinstance(args, list) or not args or len(args) > 3:
        importer.fail(where, "lamina imports layer calls with one to three positional tensor "
                      f"arguments; received {_short(args)}.")
    if not isinstance(kwargs, dict):
        importer.fail(where, f"'kwargs' must be an object, received {_short(kwargs)}.")
    missing = []
    if mask_op:
        tensor = _resolve(importer, args[0], where, nodes, missing, 0, mask_ok=True)
        if (kwargs or len(args) > 2 or isinstance(tensor, list)
                or (len(args) == 2 and not _is_number(args[1]))):
            importer.fail(where, f"a mask operation called as ({_short(args)}, "
                          f"{_short(kwargs)}) is not one lamina recomputes.")
        return None if missing else True
    call_kwargs = {}
    for key, value in kwargs.items():
        # `training` recorded at build time is overridden by the outer call in Keras,
        # except True (always-on dropout), which lamina cannot express
        if key == "training" and (value in (None, False) or (pipeline and value is True)):
            continue
        if key in ("use_causal_mask", "return_attention_scores") and isinstance(value, bool):
            call_kwargs[key] = value
            continue
        if key in ("mask", "query_mask", "value_mask", "key_mask"):
            # a mask Keras propagated: lamina's graph passes the same one itself
            if value is None or _resolve(importer, value, where, nodes, missing, 0,
                                         mask_ok=True) is _MASK:
                continue
            if not missing:
                importer.fail(where, f"the layer is called with {key}= a tensor that is not "
                              "the mask Keras propagates; lamina's import does not support "
                              "explicit masks.")
            continue
        importer.fail(where, f"the layer is called with {key}={_short(value)}, which lamina's "
                      "import does not support.")
    structure = [_resolve(importer, a, where, nodes, missing, 0) for a in args]
    return None if missing else (structure, call_kwargs)


def _resolve(importer, value, where, nodes, missing, depth, mask_ok=False):
    if depth > 16:
        importer.fail(where, "the inputs are nested too deeply.")
    if isinstance(value, list):
        return [_resolve(importer, v, where, nodes, missing, depth + 1) for v in value]
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        config = value.get("config")
        history = config.get("keras_history") if isinstance(config, dict) else None
        tensor = _history(importer, history, where, nodes, missing)
        if tensor is _MASK and not mask_ok:
            importer.fail(where, f"uses the mask operation '{history[0]}' as an input; lamina "
                          "imports mask operations only as the masks Keras propagates.")
        return tensor
    if isinstance(value, dict):
        return {k: _resolve(importer, v, where, nodes, missing, depth + 1)
                for k, v in value.items()}
    importer.fail(where, f"expected symbolic tensors as inputs, received {_short(value)}.")


def _history(importer, history, where, nodes, missing):
    if (not isinstance(history, list) or len(history) != 3 or not isinstance(history[0], str)
            or not _is_int(history[1]) or not _is_int(history[2])
            or history[1] < 0 or history[2] < 0):
        importer.fail(where, f"malformed tensor reference {_short(history)}.")
    layer_name, node_index, tensor_index = history
    if layer_name not in nodes:
        importer.fail(where, f"refers to layer '{layer_name}', which the model does not list.")
    done = nodes[layer_name]
    if node_index >= len(done):
        missing.append(history)
        return None
    outputs = done[node_index]
    if tensor_index >= len(outputs):
        importer.fail(where, f"refers to output {tensor_index} of layer '{layer_name}', which "
                      f"has {len(outputs)}.")
    return outputs[tensor_index]


def _call(importer, layer, args, kwargs, where):
    import jax

    try:
        outputs = layer(*args, **kwargs)
    except SavingError:
        raise
    except LaminaError as err:
        importer.fail(where, f"calling the layer failed: {err}")
    except (TypeError, ValueError, IndexError) as err:
        importer.fail(where, f"calling the layer failed ({type(err).__name__}: {err}).")
    return jax.tree_util.tree_leaves(outputs, is_leaf=is_symbolic)


def _tensor_structure(importer, spec, key, where, nodes):
    def triple(value):
        missing = []
        tensor = _history(importer, value, f"{where}, {key}", nodes, missing)
        if missing:
            importer.fail(where, f"{key} refers to {value!r}, which is never computed.")
        if tensor is _MASK:
            importer.fail(where, f"{key} refers to the mask operation {value!r}; lamina "
                          "imports mask operations only as the masks Keras propagates.")
        return tensor

    if isinstance(spec, list) and spec and isinstance(spec[0], str):
        return triple(spec)
    if isinstance(spec, list) and spec:
        return [triple(item) for item in spec]
    if isinstance(spec, dict) and spec:
        return {k: triple(v) for k, v in spec.items()}
    importer.fail(where, f"'{key}' must name at least one tensor, received {_short(spec)}.")
