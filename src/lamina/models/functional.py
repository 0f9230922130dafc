"""The functional graph: inputs, outputs and the nodes between them, in topological order."""
import jax
import jax.numpy as jnp
import numpy as np

from lamina.core import structure as structure_lib
from lamina.core.input_layer import InputLayer
from lamina.core.node import is_string, is_symbolic
from lamina.errors import GraphError, InputSpecError
from lamina.models import host_inputs


def _flat(structure):
    return structure_lib.flatten(structure, is_symbolic)


class Graph:
    """A DAG of layer calls from `inputs` to `outputs` (single tensors, lists or dicts)."""

    def __init__(self, inputs, outputs, model_name):
        self.model_name = model_name
        self.inputs = inputs
        self.outputs = outputs
        self.flat_inputs = _flat(inputs)
        self.flat_outputs = _flat(outputs)
        for t in self.flat_inputs + self.flat_outputs:
            if not is_symbolic(t):
                raise GraphError(
                    f"Model '{model_name}': inputs and outputs must be symbolic tensors made "
                    f"from `lamina.Input`, received {t!r} (of type {type(t).__name__})."
                )
        for t in self.flat_inputs:
            if not t.node.is_input:
                raise GraphError(
                    f"Model '{model_name}': every input must come straight from "
                    f"`lamina.Input`, received the output of layer '{t.node.layer.name}'."
                )
        self.nodes = self._topological_nodes()
        self.layers = self._ordered_layers()
        # the host prefix (docs/preprocessing.md): host layers reading the inputs
        self.host_nodes = host_inputs.host_nodes(self.nodes)
        host_inputs.check(self)

    def _topological_nodes(self):
        input_ids = {id(t) for t in self.flat_inputs}
        order, done, active = [], set(), set()

        def visit(tensor):
            node = tensor.node
            if id(node) in done:
                return
            if node.is_input:
                if id(tensor) not in input_ids:
                    raise GraphError(
                        f"Model '{self.model_name}': an output depends on input "
                        f"'{node.layer.name}', which is not among the model's inputs "
                        f"{[t.name for t in self.flat_inputs]}. Pass it in `inputs=`."
                    )
                done.add(id(node))
                return
            if id(node) in active:
                raise GraphError(f"Model '{self.model_name}': the graph has a cycle.")
            active.add(id(node))
            for parent in node.input_tensors:
                visit(parent)
            active.discard(id(node))
            done.add(id(node))
            order.append(node)

        for t in self.flat_outputs:
            visit(t)
        return order

    def _ordered_layers(self):
        """The layers in Keras 3's order (`keras.src.ops.function.map_graph`): deepest first,
        a layer's depth being its longest path to an output; within one depth, in the order
        a depth-first walk from the outputs first reaches them (an input no output uses is
        at depth 0, first).
        Keras's weights files (`.weights.h5`, legacy `.h5`) list a functional model's layers
        in this order, so a branched model's weights only exchange with Keras in it."""
        first, post, seen = {}, [], set()

        def walk(tensor):
            node = tensor.node
            if id(node) in seen:
                return
            seen.add(id(node))
            first.setdefault(id(node.layer), (len(first), node.layer))
            if not node.is_input:
                for parent in node.input_tensors:
                    walk(parent)
            post.append(node)

        for t in self.flat_outputs:
            walk(t)
        node_depth, layer_depth = {}, {}
        for node in reversed(post):
            depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = node_depth[id(node)] = depth
            for parent in [] if node.is_input else node.input_tensors:
                node_depth[id(parent.node)] = max(node_depth.get(id(parent.node), 0), depth + 1)
        for t in self.flat_inputs:
            if id(t.node.layer) not in first:
                first[id(t.node.layer)] = (-1, t.node.layer)
                layer_depth[id(t.node.layer)] = 0
        ranked = sorted(first.items(), key=lambda kv: (-layer_depth[kv[0]], kv[1][0]))
        return [layer for _, (_, layer) in ranked]

    @property
    def input_names(self):
        return [t.node.layer.name for t in self.flat_inputs]

    @property
    def output_names(self):
        if isinstance(self.outputs, dict):
            return list(self.outputs)
        return [t.node.layer.name for t in self.flat_outputs]

    # -- running ---------------------------------------------------------------------
    def flatten_inputs(self, inputs):
        """Concrete inputs as a list in `flat_inputs` order (dicts are matched by name)."""
        names = self.input_names
        if isinstance(inputs, dict):
            keys = list(self.inputs) if isinstance(self.inputs, dict) else names
            missing = [k for k in keys if k not in inputs]
            unexpected = [k for k in inputs if k not in keys]
            if missing or unexpected:
                raise InputSpecError(
                    f"Model '{self.model_name}': expected inputs keyed by {keys}, received keys "
                    f"{list(inputs)} (missing {missing}, unexpected {unexpected})."
                )
            flat = [inputs[k] for k in keys]
        elif isinstance(inputs, (list, tuple)):
            flat = list(inputs)
        else:
            flat = [inputs]
        if len(flat) != len(self.flat_inputs):
            raise InputSpecError(
                f"Model '{self.model_name}': expected {len(self.flat_inputs)} input(s) {names}, "
                f"received {len(flat)}."
            )
        return [self._check(t, x) for t, x in zip(self.flat_inputs, flat, strict=True)]

    def _check(self, spec, x):
        name = spec.node.layer.name
        if is_string(spec.dtype):
            x = host_inputs.check_text(spec, x, self.model_name)
        elif not hasattr(x, "shape"):
            x = np.asarray(x)
        if len(x.shape) != len(spec.shape) or any(
            e is not None and e != r for e, r in zip(spec.shape, x.shape, strict=True)
        ):
            raise InputSpecError(
                f"Model '{self.model_name}', input '{name}': expected shape {spec.shape}, "
                f"received shape {tuple(x.shape)}."
            )
        if is_string(spec.dtype):
            return x
        kind = "f" if jnp.issubdtype(x.dtype, jnp.floating) else np.dtype(x.dtype).kind
        if kind not in "biuf":
            raise InputSpecError(
                f"Model '{self.model_name}', input '{name}': expected a numeric array of dtype "
                f"{spec.dtype.name}, received dtype {np.dtype(x.dtype).name}."
            )
        if spec.dtype.kind in "iu" and kind == "f":
            raise InputSpecError(
                f"Model '{self.model_name}', input '{name}': expected integer dtype "
                f"{spec.dtype.name}, received floating dtype {np.dtype(x.dtype).name}."
            )
        # int64 / float64 inputs become jax's default widths without x64, silently
        return jnp.asarray(x, dtype=jax.dtypes.canonicalize_dtype(spec.dtype))

    def run(self, inputs, masks=None):
        """(outputs, output masks) of the graph on concrete `inputs`.

        Masks travel beside the values: a node's layer receives the mask of its first input as
        `mask=` when its `call` takes one (unless the graph passes a mask explicitly), and its
        outputs get `layer.compute_mask(...)`. A graph with a host prefix takes raw inputs
        (concrete: the host layers run here) or prepared ones (`host_inputs.prepare`, what
        its compiled steps receive), and runs the rest.
        """
        if self.host_nodes:
            env, env_masks = host_inputs.seed(self, host_inputs.prepare(self, inputs))
            return self._run_nodes([n for n in self.nodes if n not in self.host_nodes],
                                   env, env_masks)
        flat = self.flatten_inputs(inputs)
        flat_masks = ([None] * len(flat) if masks is None
                      else structure_lib.flatten(masks, lambda m: m is None))
        if len(flat_masks) != len(flat):
            raise InputSpecError(
                f"Model '{self.model_name}': expected {len(flat)} mask(s) (one per input, None "
                f"for an input without mask), received {len(flat_masks)}.")
        env = {id(t): x for t, x in zip(self.flat_inputs, flat, strict=True)}
        env_masks = {id(t): m for t, m in zip(self.flat_inputs, flat_masks, strict=True)}
        return self._run_nodes(self.nodes, env, env_masks)

    def _run_nodes(self, nodes, env, env_masks):
        for node in nodes:
            call_args, call_kwargs = jax.tree_util.tree_map(
                lambda t: env[id(t)] if is_symbolic(t) else t,
                (node.call_args, node.call_kwargs),
                is_leaf=is_symbolic,
            )
            previous_mask = jax.tree_util.tree_map(
                lambda t: env_masks.get(id(t)) if is_symbolic(t) else None,
                node.call_args[0], is_leaf=is_symbolic)
            has_mask = any(m is not None for m in jax.tree_util.tree_leaves(previous_mask))
            if has_mask and node.layer._call_takes_mask and call_kwargs.get("mask") is None:
                call_kwargs = {**call_kwargs, "mask": previous_mask}
            call_kwargs = _argument_masks(node, call_kwargs, env_masks)
            result = node.layer(*call_args, **call_kwargs)
            out_mask = node.layer._output_mask(call_args[0], previous_mask if has_mask else None)
            # both sides in jax's (sorted-key) order: node.outputs was built by jax.tree_util
            leaves = jax.tree_util.tree_leaves(node.outputs, is_leaf=is_symbolic)
            out_masks = _per_output(out_mask, len(leaves))
            values = jax.tree_util.tree_leaves(result)
            for t, value, mask in zip(leaves, values, out_masks, strict=True):
                env[id(t)] = value
                env_masks[id(t)] = mask
        outputs = structure_lib.map_structure(lambda t: env[id(t)], self.outputs, is_symbolic)
        output_masks = structure_lib.map_structure(lambda t: env_masks.get(id(t)), self.outputs,
                                                   is_symbolic)
        return outputs, output_masks


def _argument_masks(node, call_kwargs, env_masks):
    """Keras 3's rule for layers with several tensor arguments: an argument `p` whose tensor
    has a mask fills `p_mask=` when `call` has that parameter and it was not given (e.g.
    MultiHeadAttention's `value_mask` from `value`)."""
    params = node.layer._call_params
    # `call`'s parameters paired with the positional arguments given; the rest are keywords
    # or defaults, so truncation to the shorter is intended
    bound = list(zip(params, node.call_args, strict=False)) + list(node.call_kwargs.items())
    extra = {}
    for name, value in bound:
        key = f"{name}_mask"
        if key in params and call_kwargs.get(key) is None and is_symbolic(value):
            mask = env_masks.get(id(value))
            if mask is not None:
                extra[key] = mask
    return {**call_kwargs, **extra} if extra else call_kwargs


def _per_output(mask, count):
    """A layer's output mask spread over its `count` output leaves."""
    if mask is None:
        return [None] * count
    if isinstance(mask, (list, tuple)) and len(mask) == count:
        return list(mask)
    return [mask] * count


def input_layers(layers):
    return [layer for layer in layers if isinstance(layer, InputLayer)]
