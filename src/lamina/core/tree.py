"""Sublayer discovery: the one function that finds a layer's direct sublayers."""


def _layers_in(value, label):
    """(label, layer) pairs in an attribute value: a layer, or lists/tuples/dicts of them."""
    from lamina.core.layer import Layer

    if isinstance(value, Layer):
        yield label, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _layers_in(item, f"{label}/{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _layers_in(item, f"{label}/{key}")


def named_sublayers(layer):
    """(label, sublayer) for the direct sublayers of `layer`, without duplicates, in order.

    Containers that know their sublayers (functional and Sequential models) say so through
    `_explicit_sublayers()` and label them by layer name; otherwise attributes are walked
    (Layer instances, and lists, tuples and dicts of them) and labelled by attribute path
    ("encoder", "blocks/0"), which stays stable when automatic names differ.
    """
    explicit = layer._explicit_sublayers()
    if explicit is not None:
        return [(child.name, child) for child in explicit]
    found, seen = [], set()
    for name, value in vars(layer).items():
        if name in layer._NOT_SUBLAYERS:
            continue
        for label, child in _layers_in(value, name):
            if id(child) not in seen and child is not layer:
                seen.add(id(child))
                found.append((label, child))
    return found


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
