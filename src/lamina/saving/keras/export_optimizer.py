"""The optimizer state of a compiled lamina model in Keras 3's layout: the `optimizer/vars`
group of `model.weights.h5` (`iteration`, `learning_rate`, then each trained variable's
slots, in the order of Keras's `model.trainable_variables`).

Written for the optimizers whose optax state is Keras's state: Adam and AdamW without
amsgrad (`momentum`, `velocity` = optax's `mu`, `nu`, both uncorrected moving averages), SGD
(`momentum` = `-learning_rate * trace` of optax's momentum, for Keras's update
`m = momentum * m - lr * g`) and RMSprop without momentum or centering (`velocity` = `nu`).
A model compiled but not trained yet gets Keras's initial state (zeros). For the other
optimizers (and a learning-rate schedule) `optimizer_vars` is None: Keras refuses to load a
compiled model without its optimizer's state, so the exporter leaves the compile config
out, with a warning (`.lamina` files keep every state).
"""
import re

import jax
import numpy as np

from lamina import trainability

_SLOTS = {"Adam": ("mu", "nu"), "AdamW": ("mu", "nu"), "SGD": ("trace",),
          "RMSprop": ("nu",)}


def _slot_names(optimizer):
    """lamina's state entries that make Keras's slots, per variable; None when Keras's state
    differs."""
    name = type(optimizer).__name__
    config = optimizer.get_config()
    if name not in _SLOTS or getattr(optimizer, "has_schedule", False):
        return None
    if name in ("Adam", "AdamW") and config.get("amsgrad"):
        return None
    if name == "RMSprop" and (config.get("momentum") or config.get("centered")):
        return None
    if name == "SGD" and not config.get("momentum"):
        return ()
    return _SLOTS[name]


def _state_by_slot(opt_state, uid_to_variable):
    """{(slot, variable uid): array} of the per-variable entries of an optax state."""
    found = {}
    for keypath, leaf in jax.tree_util.tree_flatten_with_path(opt_state)[0]:
        uid = next((k.key for k in keypath if isinstance(k, jax.tree_util.DictKey)
                    and isinstance(k.key, int) and k.key in uid_to_variable), None)
        if uid is None:
            continue
        names = [getattr(k, "name", getattr(k, "key", None)) for k in keypath]
        slot = next((n for n in reversed(names) if isinstance(n, str)
                     and re.fullmatch(r"[a-z_]+", n)), None)
        found[(slot, uid)] = np.asarray(leaf)
    return found


def optimizer_vars(model, groups):
    """The arrays of Keras's `optimizer/vars` group, or None when not written. `groups` is
    `export_model.weight_groups(model)`, whose order is Keras's variable order."""
    trainer = model._trainer
    slots = _slot_names(trainer.optimizer)
    if slots is None:
        return None
    resolution = trainability.resolve(model)
    trained = [v for variables in groups.values() for v in variables
               if resolution.is_trained(v)]
    state = ({} if trainer.opt_state is None else
             _state_by_slot(trainer.opt_state, {v.uid: v for v in resolution.variables}))
    rate = float(trainer.optimizer.learning_rate)
    arrays = [np.asarray(trainer.iterations, np.int32), np.asarray(rate, np.float32)]
    for variable in trained:
        for slot in slots:
            value = state.get((slot, variable.uid))
            if value is None and trainer.opt_state is not None:
                return None
            if value is None:  # not trained yet: Keras's initial state
                value = np.zeros(variable.shape, np.dtype(variable.dtype))
            arrays.append(-rate * value if slot == "trace" else value)
    return arrays
