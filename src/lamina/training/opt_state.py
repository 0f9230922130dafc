"""Per-variable optimizer state that survives freezing (docs/design.md rule 6).

The optimizer state covers every variable whose own flag is trainable, as a dict keyed by
variable uid. A step updates only the trained subset: `restrict` cuts the per-variable
entries down to that subset (scalars such as Adam's step count are shared), the optax
update runs on it, and `merge` writes the result back. Entries of frozen variables are
carried through untouched, so their moments resume where they stopped.
"""


def _is_param_dict(node, keys):
    return isinstance(node, dict) and node.keys() == keys


def _map(node, keys, leaf_fn, dict_fn):
    if _is_param_dict(node, keys):
        return dict_fn(node)
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return type(node)(*[_map(c, keys, leaf_fn, dict_fn) for c in node])
    if isinstance(node, (tuple, list)):
        return type(node)(_map(c, keys, leaf_fn, dict_fn) for c in node)
    if isinstance(node, dict):
        return {k: _map(v, keys, leaf_fn, dict_fn) for k, v in node.items()}
    return leaf_fn(node)


def restrict(state, all_keys, keys):
    """`state` with every per-variable dict cut down to `keys`."""
    return _map(state, all_keys, lambda leaf: leaf, lambda d: {k: d[k] for k in keys})


def merge(full, sub, all_keys):
    """`full` with the entries (and shared scalars) of `sub` written into it."""
    if _is_param_dict(full, all_keys):
        return {**full, **sub}
    if isinstance(full, tuple) and hasattr(full, "_fields"):
        return type(full)(*[merge(f, s, all_keys) for f, s in zip(full, sub)])
    if isinstance(full, (tuple, list)):
        return type(full)(merge(f, s, all_keys) for f, s in zip(full, sub))
    if isinstance(full, dict):
        return {k: merge(full[k], sub[k], all_keys) for k in full}
    return sub


def extend(tx, state, params):
    """Optimizer state for `params`, keeping the entries and shared scalars of `state`.

    `params` must cover every variable `state` covers; new variables start fresh.
    """
    fresh = tx.init(params)
    return fresh if state is None else merge(fresh, state, params.keys())
