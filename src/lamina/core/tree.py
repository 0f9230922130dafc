"""Sublayer discovery: the one function that finds a layer's direct sublayers."""


def _layers_in(value):
    from lamina.core.layer import Layer

    if isinstance(value, Layer):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _layers_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _layers_in(item)


def sublayers(layer):
    """Direct sublayers of `layer`, without duplicates, in the order they were assigned.

    Containers that know their sublayers (functional and Sequential models) say so through
    `_explicit_sublayers()`; otherwise attributes are walked (Layer instances, and lists,
    tuples and dicts of them).
    """
    explicit = layer._explicit_sublayers()
    if explicit is not None:
        return list(explicit)
    found, seen = [], set()
    for name, value in vars(layer).items():
        if name in layer._NOT_SUBLAYERS:
            continue
        for child in _layers_in(value):
            if id(child) not in seen and child is not layer:
                seen.add(id(child))
                found.append(child)
    return found


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
