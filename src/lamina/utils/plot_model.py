"""`plot_model`: the model graph as Graphviz DOT, rendered to an image when Graphviz is there.

One box per layer; nested models are clusters (with `expand_nested`); a layer that other live
models also hold is drawn with a double border and "shared with ..."; frozen layers are
coloured by why they are frozen when the plotted model trains: their own flag (blue) or a
model's scoped `freeze` (grey, naming the model).
"""
import os
import shutil
import subprocess

from lamina import trainability
from lamina.core import holders as holders_lib
from lamina.core import tree
from lamina.core.files import atomic_write
from lamina.core.input_layer import InputLayer
from lamina.errors import ConfigurationError

FLAG_COLOUR = "#cfe2f3"
SCOPED_COLOUR = "#d9d9d9"
TRAINED_COLOUR = "#ffffff"


def _quote(text):
    text = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


class _Dot:
    def __init__(self, root, show_shapes, show_trainable, expand_nested):
        self.root = root
        self.resolution = trainability.resolve(root)
        self.show_shapes, self.show_trainable = show_shapes, show_trainable
        self.expand_nested = expand_nested
        self.lines, self.edges, self.drawn = [], [], set()
        self.ids = {}

    def _node_id(self, layer):
        """Stable ids in drawing order (n0, n1, ...), so the same model gives the same DOT."""
        return self.ids.setdefault(id(layer), f"n{len(self.ids)}")

    # -- one box -----------------------------------------------------------------------
    def _frozen_reason(self, layer):
        paths = self.resolution.layer_paths.get(id(layer), ())
        if not paths or any(p.open for p in paths):
            return None
        reasons = [r for p in paths for r in p.reasons]
        return reasons[0] if reasons else None

    def _box(self, layer, indent):
        if id(layer) in self.drawn:
            return
        self.drawn.add(id(layer))
        label = [f"{layer.name} ({type(layer).__name__})"]
        if self.show_shapes and layer._inbound_nodes:
            outputs = layer._inbound_nodes[0].outputs
            shape = getattr(outputs, "shape", None)
            if shape is not None:
                label.append(f"output: {tuple(shape)}")
        attrs = {"shape": "box", "style": "filled", "fillcolor": TRAINED_COLOUR}
        reason = self._frozen_reason(layer) if tree.sublayers(layer) == [] else None
        if reason is not None and layer._variables:
            scoped = "froze" in reason
            attrs["fillcolor"] = SCOPED_COLOUR if scoped else FLAG_COLOUR
            if self.show_trainable:
                label.append("frozen: " + reason)
        elif self.show_trainable and layer._variables:
            label.append(f"trainable={layer.trainable}")
        others = [m.name for m in holders_lib.holders(layer, exclude=self.root)
                  if not any(inner is m for inner in tree.all_layers(self.root))]
        if others:
            attrs["peripheries"] = "2"
            label.append("shared with " + ", ".join(others))
        attrs["label"] = "\n".join(label)
        body = ", ".join(f"{k}={_quote(v)}" for k, v in attrs.items())
        self.lines.append(f"{indent}{self._node_id(layer)} [{body}];")

    # -- a model's graph ------------------------------------------------------------------
    def model(self, model, indent="  "):
        """Emit `model`'s layers; returns (entry boxes per input, exit boxes per output)."""
        graph = model._graph
        if graph is None:  # subclassed: its sublayers, without edges
            for layer in tree.sublayers(model):
                self.layer(layer, indent)
            return None
        for t in graph.flat_inputs:
            self._box(t.node.layer, indent)
        for node in graph.nodes:
            entries = self.layer(node.layer, indent)
            for i, t in enumerate(node.input_tensors):
                source = self._exit(t)
                targets = entries[min(i, len(entries) - 1)] if entries else [node.layer]
                for target in targets if isinstance(targets, list) else [targets]:
                    self.edges.append((source, target))
        return graph

    def _exit(self, tensor):
        """The box a symbolic tensor comes out of (inside an expanded nested model, the layer
        that produced the model's corresponding output)."""
        layer = tensor.node.layer
        graph = getattr(layer, "_graph", None)
        if graph is not None and self.expand_nested:
            return self._exit(graph.flat_outputs[min(tensor.index, len(graph.flat_outputs) - 1)])
        return layer

    def layer(self, layer, indent):
        """Emit a layer (a cluster for a nested model); returns its entry boxes per input."""
        graph = getattr(layer, "_graph", None)
        if tree.sublayers(layer) and self.expand_nested:
            if id(layer) in self.drawn:
                return ([[t.node.layer] for t in graph.flat_inputs] if graph is not None
                        else None)
            self.drawn.add(id(layer))
            reason = self._frozen_reason(layer)
            colour = SCOPED_COLOUR if reason and "froze" in reason else (
                FLAG_COLOUR if reason else TRAINED_COLOUR)
            title = f"{layer.name} ({type(layer).__name__})"
            if reason and self.show_trainable:
                title += "\nfrozen: " + reason
            self.lines.append(f"{indent}subgraph cluster_{self._node_id(layer)} {{")
            self.lines.append(f"{indent}  label={_quote(title)}; style=filled; "
                              f"fillcolor={_quote(colour)};")
            self.model(layer, indent + "  ")
            self.lines.append(f"{indent}}}")
            return [[t.node.layer] for t in graph.flat_inputs] if graph is not None else None
        self._box(layer, indent)
        return None

    def source(self, rankdir):
        self.lines = [f"digraph {_quote(self.root.name)} {{", f"  rankdir={rankdir};",
                      '  node [fontname="Helvetica"];']
        self.model(self.root)
        seen = set()
        for a, b in self.edges:
            if isinstance(b, InputLayer) or (id(a), id(b)) not in seen:
                seen.add((id(a), id(b)))
                self.lines.append(f"  {self._node_id(a)} -> {self._node_id(b)};")
        self.lines.append("}")
        return "\n".join(self.lines) + "\n"


def model_to_dot(model, show_shapes=False, show_trainable=True, expand_nested=True,
                 rankdir="TB"):
    """The DOT source of `model`'s graph (a string)."""
    if rankdir not in ("TB", "LR"):
        raise ConfigurationError(f"plot_model: expected rankdir 'TB' or 'LR', received "
                                 f"{rankdir!r}.")
    return _Dot(model, show_shapes, show_trainable, expand_nested).source(rankdir)


def plot_model(model, to_file="model.png", show_shapes=False, show_trainable=True,
               expand_nested=True, rankdir="TB", dpi=96):
    """Draw `model` to `to_file` and return the DOT source.

    A `.dot` file is written as text (no dependency). Other extensions (png, svg, pdf) are
    rendered by Graphviz's `dot` program, which must be installed (e.g. `apt-get install
    graphviz`); without it this raises an error that says so.
    """
    source = model_to_dot(model, show_shapes, show_trainable, expand_nested, rankdir)
    path = os.fspath(to_file)
    extension = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    if extension == "dot":
        atomic_write(path, lambda f: f.write(source.encode()))
        return source
    dot = shutil.which("dot")
    if dot is None:
        raise ConfigurationError(
            f"plot_model: rendering '{path}' needs Graphviz's `dot` program, which is not on "
            "PATH. Install Graphviz (e.g. `apt-get install graphviz`), or save the DOT source "
            "with to_file='model.dot'.")
    result = subprocess.run([dot, f"-T{extension}", f"-Gdpi={int(dpi)}"],
                            input=source.encode(), capture_output=True, check=False)
    if result.returncode != 0:
        raise ConfigurationError(f"plot_model: Graphviz failed to render '{path}': "
                                 f"{result.stderr.decode(errors='replace').strip()}")
    atomic_write(path, lambda f: f.write(result.stdout))
    return source
