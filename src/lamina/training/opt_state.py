"""Per-variable optimizer state that survives freezing (docs/design.md rule 6).

The optimizer state covers every variable trained so far, as a dict keyed by variable uid:
a variable's entries are made (optax's init of its subtree, `extend`) at the first step that
trains it, so a base frozen from the start costs no optimizer slots; until then it has never
been updated and its state would be the init one. A step updates only the trained subset
of what the state covers: `restrict` cuts the per-variable
entries down to that subset (scalars such as Adam's step count are shared), the optax
update runs on it, and `merge` writes the result back. Entries of frozen variables are
carried through untouched, so their moments resume where they stopped. `apply_gradients`
is the optimizer half-step every train step runs on top of this split, and `check_split`
refuses, with the fix, a transform whose state cannot be split.
"""
import jax
import optax

from lamina.errors import MSG_OPT_STATE_NOT_SPLIT, ConfigurationError
from lamina.optimizers import loss_scale


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
        return type(full)(*[merge(f, s, all_keys) for f, s in zip(full, sub, strict=True)])
    if isinstance(full, (tuple, list)):
        return type(full)(merge(f, s, all_keys) for f, s in zip(full, sub, strict=True))
    if isinstance(full, dict):
        return {k: merge(full[k], sub[k], all_keys) for k in full}
    return sub


def extend(tx, state, params):
    """Optimizer state for `params`, keeping the entries and shared scalars of `state`.

    `params` must cover every variable `state` covers; new variables start fresh.
    """
    fresh = tx.init(params)
    return fresh if state is None else merge(fresh, state, params.keys())


def apply_gradients(tx, opt_state, trained, grads, constrained=(), covered=None):
    """(new trained values, new optimizer state): one optimizer update of `trained` (uid ->
    value) by `grads`, the one half-step of every train step (default, GAN, custom).

    `covered` are the uids `opt_state` holds entries for, when it covers more than `trained`
    (the entries of frozen variables are cut out for the update and put back untouched); None
    when it covers exactly `trained`. The `constrained` variables get their constraint after
    the update. Under loss scaling, a step whose gradients overflowed keeps the weights bit
    for bit (the transform already kept its own state).
    """
    sub_state = opt_state if covered is None else restrict(opt_state, covered, trained.keys())
    deltas, sub_state = tx.update(grads, sub_state, trained)
    new = constrain(constrained, optax.apply_updates(trained, deltas))
    new = loss_scale.select_finite(sub_state, new, trained)
    return new, (sub_state if covered is None else merge(opt_state, sub_state, covered))


def constrain(constrained, values):
    """`values` (uid -> array) with each constrained variable's constraint applied."""
    return {**values, **{v.uid: v.constraint(values[v.uid]) for v in constrained}}


def check_split(tx, opt_state, covered, trained, variables, what):
    """Raise a `ConfigurationError` unless `tx` can update `opt_state` restricted to the
    `trained` variables (a list; `covered`: the uids the state holds entries for; `variables`:
    the model's, to name the frozen ones; `what`: who trains, for the message).

    Run once per trainability configuration, before its step is traced, and only where
    something the state covers is frozen. The update is traced on shapes only: a transform
    whose state is not one entry per parameter (`optax.flatten` keeps one vector for all of
    them) fails here, with the fix, rather than as a shape error inside the compiled step.
    """
    keys = [v.uid for v in trained]
    if set(keys) == set(covered):
        return
    params = {v.uid: jax.ShapeDtypeStruct(v.shape, v.dtype) for v in trained}
    sub_state = restrict(opt_state, covered, keys)
    try:
        deltas, new_state = jax.eval_shape(lambda s, p: tx.update(p, s, p), sub_state, params)
    except (TypeError, ValueError) as err:
        raise _split_error(tx, what, variables, keys, str(err).splitlines()[0]) from err
    if _shapes(new_state) != _shapes(sub_state) or _shapes(deltas) != _shapes(params):
        raise _split_error(tx, what, variables, keys,
                           "the update returned a state or updates of other shapes")


def _shapes(tree):
    """Structure and leaf shapes (not dtypes: a transform may compute in another one)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, [tuple(leaf.shape) for leaf in leaves]


def _split_error(tx, what, variables, trained_keys, detail):
    name = getattr(tx.init, "__qualname__", type(tx).__name__).split(".<locals>")[0]
    frozen = [v.path for v in variables if v.uid not in trained_keys and v.trainable]
    return ConfigurationError(MSG_OPT_STATE_NOT_SPLIT.format(
        what=what, name=name, frozen=", ".join(f"'{p}'" for p in frozen[:3])
        + (f" and {len(frozen) - 3} more" if len(frozen) > 3 else ""), detail=detail))
