"""Nested inputs/outputs (a tensor, lists, tuples, dicts) walked in *insertion* order.

`jax.tree_util` sorts dict keys; a model's dict inputs and outputs must keep the order the
user gave (it decides `output_names`, log order and list-style inputs).
"""


def flatten(structure, is_leaf):
    if is_leaf(structure):
        return [structure]
    if isinstance(structure, dict):
        return [leaf for value in structure.values() for leaf in flatten(value, is_leaf)]
    if isinstance(structure, (list, tuple)):
        return [leaf for value in structure for leaf in flatten(value, is_leaf)]
    return [structure]


def map_structure(fn, structure, is_leaf):
    if is_leaf(structure):
        return fn(structure)
    if isinstance(structure, dict):
        return {key: map_structure(fn, value, is_leaf) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, value, is_leaf) for value in structure)
    return fn(structure)
