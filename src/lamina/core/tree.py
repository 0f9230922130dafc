"""Walking a model's layer tree: direct sublayers (as each layer finds them, see
`Layer._named_sublayers`), every layer below a root, and their paths (the names of layers
and variables in saved files and `LayoutMap` rules)."""
from lamina.errors import SavingError


def named_sublayers(layer):
    """(label, sublayer) for the direct sublayers of `layer` (`Layer._named_sublayers`)."""
    return layer._named_sublayers()


def own_variables(layer):
    """The variables `layer` owns: those it created (`add_weight`) and the states of the seed
    generators (`lamina.random.SeedGenerator`) held in its attributes, which it adopts the
    first time a walk lists them, as Keras's layers track a generator assigned in
    `__init__`."""
    for label, value in list(vars(layer).items()):
        adopt = getattr(type(value), "_adopt_state", None)
        if adopt is not None:
            adopt(value, layer, label)
    return layer._variables


def sublayers(layer):
    """Direct sublayers of `layer` (see `named_sublayers`)."""
    return [child for _, child in named_sublayers(layer)]


def labelled_layers(root):
    """(path, layer) for `root` ("") and every layer below it, each once, depth first."""
    out, seen = [], set()

    def walk(layer, path):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        out.append((path, layer))
        for label, child in named_sublayers(layer):
            walk(child, f"{path}/{label}" if path else label)

    walk(root, "")
    return out


def all_layers(root):
    """`root` and every layer below it, each once, depth first."""
    out, seen = [], set()

    def walk(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        out.append(layer)
        for child in sublayers(layer):
            walk(child)

    walk(root)
    return out


def layer_paths(model):
    """path -> layer for every layer under `model` ("" is the model itself).

    Paths label sublayers by name in functional and Sequential models and by attribute in
    subclassed ones (`named_sublayers`), so they survive a rebuild from the config.
    """
    out = {}
    for path, layer in labelled_layers(model):
        if path in out:
            raise SavingError(
                f"Model '{model.name}': two layers share the path {path!r}. Give them "
                "distinct names before saving."
            )
        out[path] = layer
    return out


def variable_paths(model):
    """path -> variable ("dense/kernel", "encoder/dense/kernel"), unique within `model`."""
    out = {}
    for path, layer in layer_paths(model).items():
        for variable in own_variables(layer):
            key = f"{path}/{variable.name}" if path else variable.name
            if key in out:
                raise SavingError(
                    f"Model '{model.name}': two variables share the path {key!r}. Give "
                    "them distinct names before saving."
                )
            out[key] = variable
    return out
