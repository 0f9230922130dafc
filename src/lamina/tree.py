"""Keras 3's `keras.tree`: nested structures (lists, tuples, dicts, namedtuples, and any JAX
pytree node) with `None` as a leaf, on `jax.tree_util`.

Dicts are visited in sorted key order, as in Keras, and a dict that is rebuilt keeps the key
order of the structure it came from (as Keras's optree does). A path (`flatten_with_path`)
is a tuple of dict keys and sequence indices (a namedtuple's field counts by index, as in
Keras's optree).
"""
import jax

from lamina.errors import InputSpecError

_tu = jax.tree_util


class MAP_TO_NONE:
    """Returned by a `traverse` function to put None at that place of the result."""


def _is_none(x):
    return x is None


def _structure(structure):
    return _tu.tree_structure(structure, is_leaf=_is_none)


def _keep_order(template, value):
    """`value` with its plain dicts in `template`'s key order (jax rebuilds them sorted)."""
    if type(template) is dict and type(value) is dict and template.keys() == value.keys():
        return {k: _keep_order(template[k], value[k]) for k in template}
    if type(template) is type(value) and isinstance(value, (list, tuple)) and len(
            template) == len(value):
        items = [_keep_order(t, v) for t, v in zip(template, value, strict=True)]
        if hasattr(value, "_fields"):
            return type(value)(*items)
        return type(value)(items)
    return value


def is_nested(structure):
    """True for a container (list, tuple, dict, namedtuple, pytree node), False for a leaf."""
    treedef = _structure(structure)
    return not (treedef.num_nodes == 1 and treedef.num_leaves == 1)


def flatten(structure):
    """The leaves of `structure`, depth first, dict keys sorted; a leaf gives `[leaf]`."""
    return _tu.tree_leaves(structure, is_leaf=_is_none)


def _key(entry, parent):
    if isinstance(entry, _tu.DictKey):
        return entry.key
    if isinstance(entry, _tu.SequenceKey):
        return entry.idx
    if isinstance(entry, _tu.GetAttrKey) and hasattr(parent, "_fields"):
        return parent._fields.index(entry.name)
    if isinstance(entry, _tu.GetAttrKey):
        return entry.name
    return getattr(entry, "key", entry)


def flatten_with_path(structure):
    """`(path, leaf)` pairs; a path is the tuple of keys and indices leading to the leaf."""
    pairs, _ = _tu.tree_flatten_with_path(structure, is_leaf=_is_none)
    out = []
    for path, leaf in pairs:
        keys, node = [], structure
        for entry in path:
            key = _key(entry, node)
            keys.append(key)
            node = node[key] if not isinstance(entry, _tu.GetAttrKey) or isinstance(
                key, int) else getattr(node, key)
        out.append((tuple(keys), leaf))
    return out


def pack_sequence_as(structure, flat_sequence):
    """`structure` with its leaves replaced, in order, by `flat_sequence`'s items."""
    treedef = _structure(structure)
    flat_sequence = list(flat_sequence)
    if len(flat_sequence) != treedef.num_leaves:
        raise InputSpecError(
            f"pack_sequence_as: the structure has {treedef.num_leaves} leaves, received "
            f"{len(flat_sequence)} values.")
    return _keep_order(structure, _tu.tree_unflatten(treedef, flat_sequence))


def assert_same_structure(a, b, check_types=None):
    """Raise `InputSpecError` unless `a` and `b` nest the same containers (leaves may differ).
    `check_types` is accepted for Keras compatibility and has no effect (as in Keras 3)."""
    del check_types
    if _structure(a) != _structure(b):
        raise InputSpecError(
            f"The two structures don't have the same nested structure: {_structure(a)} and "
            f"{_structure(b)}.")


def assert_same_paths(a, b):
    """Raise `InputSpecError` unless `a` and `b` have the same set of leaf paths (a list and
    a tuple of one length match)."""
    a_paths = {p for p, _ in flatten_with_path(a)}
    b_paths = {p for p, _ in flatten_with_path(b)}
    if a_paths != b_paths:
        raise InputSpecError(
            "`a` and `b` don't have the same paths. Paths in `a` missing in `b`: "
            f"{sorted(map(str, a_paths - b_paths))}; paths in `b` missing in `a`: "
            f"{sorted(map(str, b_paths - a_paths))}.")


def map_structure(func, *structures, none_is_leaf=True):
    """`func` applied to the leaves (in parallel over several structures of one shape)."""
    if not structures:
        raise InputSpecError("map_structure: expected at least one structure.")
    first, rest = structures[0], list(structures[1:])
    for other in rest:
        assert_same_structure(first, other)
    is_leaf = _is_none if none_is_leaf else None
    return _keep_order(first, _tu.tree_map(func, first, *rest, is_leaf=is_leaf))


def map_structure_up_to(shallow_structure, func, *structures):
    """`func` applied to the sub-structures of `structures` found at the leaves of
    `shallow_structure`."""
    if not structures:
        raise InputSpecError("map_structure_up_to: expected at least one structure.")
    treedef = _structure(shallow_structure)
    parts = [treedef.flatten_up_to(s) for s in structures]
    return _tu.tree_unflatten(treedef, [func(*args) for args in zip(*parts, strict=True)])


def traverse(func, structure, top_down=True):
    """Visit every node (containers and leaves). Top down: where `func` returns None the
    children are traversed, otherwise its result replaces the node (`MAP_TO_NONE` gives
    None). Bottom up: children first, then `func` on the rebuilt node, same replacement."""
    def children():
        if not is_nested(structure):
            return structure
        kids, treedef = _tu.tree_flatten(structure, is_leaf=lambda x: x is not structure)
        rebuilt = _tu.tree_unflatten(treedef, [traverse(func, c, top_down) for c in kids])
        return _keep_order(structure, rebuilt)

    if top_down:
        result = func(structure)
        if result is None:
            return children()
    else:
        rebuilt = children()
        result = func(rebuilt)
        if result is None:
            return rebuilt
    return None if result is MAP_TO_NONE else result


def lists_to_tuples(structure):
    """Every list in `structure` as a tuple."""
    return traverse(lambda x: tuple(x) if isinstance(x, list) else None, structure,
                    top_down=False)


def map_shape_structure(func, structure):
    """`func` applied to each shape tuple (a list or tuple of ints and Nones) in
    `structure`."""
    def is_shape(x):
        return x is None or (isinstance(x, (list, tuple))
                             and all(isinstance(e, (int, type(None))) for e in x))
    return _tu.tree_map(func, structure, is_leaf=is_shape)
