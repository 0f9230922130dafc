"""Several optimizers in one model's Keras-form `train_step` (a GAN's `d_optimizer` and
`g_optimizer`, kept as attributes by the model's own `compile`).

Every lamina `Optimizer` held as an attribute of the model, besides the compiled one, is an
*extra* optimizer. The trainer keeps one optax state per extra optimizer, over the same
variables as the compiled one's (every variable trained so far), so frozen variables keep
their entries (docs/design.md rule 6). Inside the step each optimizer's
`stateless_apply(optimizer_variables, grads, trainable_variables)` may update a **subset**
of the step's `trainable_variables`: the values passed are matched, by identity, to the
entries of the state's list, and only their optimizer entries change. For the compiled
optimizer `optimizer_variables` is the state's list (as in Keras); an extra optimizer's
state is threaded by lamina, so it takes `None` there and returns `None` in its place.
"""
import jax

from lamina import errors
from lamina.optimizers.base import Optimizer
from lamina.training import opt_state as opt_state_lib


def extra_optimizers(trainer):
    """{attribute name: optimizer} of the extra optimizers of the trainer's model."""
    return {name: value for name, value in sorted(vars(trainer.model).items())
            if isinstance(value, Optimizer) and value is not trainer.optimizer}


def extend_states(trainer, params):
    """Give every extra optimizer a state over `params` (uid -> value), keeping its entries
    (the compiled optimizer's state grows the same way, `opt_state.extend`)."""
    for name, optimizer in extra_optimizers(trainer).items():
        tx = trainer.extra_tx.setdefault(name, optimizer.build(trainer.model))
        trainer.extra_opt_states[name] = opt_state_lib.extend(
            tx, trainer.extra_opt_states.get(name), params)


def states_for(trainer, kind, path):
    """The extra optimizers' states a step of `kind` on `path` takes ({} without them);
    they travel beside a one-batch step only."""
    states = trainer.extra_opt_states
    if states and (kind, path) != ("train", "batch"):
        raise errors.ConfigurationError(
            f"Model '{trainer.model.name}': the optimizers kept as attributes "
            f"({sorted(states)}) run one batch per call; compile with steps_per_execution=1.")
    return states


class SubsetApply:
    """One optimizer's update inside a step, over any subset of the trained variables."""

    def __init__(self, model, tx, state, plan, trained_values, owner):
        self.model, self.tx, self.state, self.plan, self.owner = model, tx, state, plan, owner
        self.positions = {id(v): i for i, v in enumerate(trained_values)}
        self.keys = frozenset(plan.trained)

    def __call__(self, grads, trainable_variables):
        """New values of `trainable_variables` after one update with `grads`."""
        n = len(self.plan.trained)
        found = [self.positions.get(id(v)) for v in trainable_variables]
        if None in found:
            if len(trainable_variables) != n:
                raise errors.ConfigurationError(
                    f"Model '{self.model.name}'.{self.owner}.stateless_apply: expected "
                    "trainable_variables to be the step's `trainable_variables`, or a subset "
                    "of its entries as received (matched by identity); received "
                    f"{len(trainable_variables)} values of which {found.count(None)} are not "
                    "entries of the state.")
            found = list(range(n))
        if len(grads) != len(found):
            raise errors.ConfigurationError(
                f"Model '{self.model.name}'.{self.owner}.stateless_apply: expected one "
                f"gradient per variable ({len(found)}), received {len(grads)}.")
        uids = [self.plan.trained[i] for i in found]
        constrained = [self.plan.trained_vars[i] for i in found
                       if self.plan.trained_vars[i].constraint is not None]
        sub = opt_state_lib.restrict(self.state, self.keys, uids)
        new, sub = opt_state_lib.apply_gradients(
            self.tx, sub, dict(zip(uids, trainable_variables, strict=True)),
            dict(zip(uids, grads, strict=True)), constrained)
        self.state = opt_state_lib.merge(self.state, sub, self.keys)
        return [new[u] for u in uids]


def compiled_apply(trainer, plan, opt_def, trained_values):
    """`optimizer.stateless_apply` of the compiled optimizer (Keras's contract: the
    optimizer state comes in and goes out as a list)."""
    def apply(optimizer_variables, grads, trainable_variables):
        update = SubsetApply(trainer.model, trainer.tx, jax.tree_util.tree_unflatten(
            opt_def, list(optimizer_variables)), plan, trained_values, "optimizer")
        values = update(grads, trainable_variables)
        return values, jax.tree_util.tree_leaves(update.state)

    return apply


def extra_apply(update):
    """`stateless_apply` of an extra optimizer: its state is `update.state`, threaded by
    the step."""
    def apply(optimizer_variables, grads, trainable_variables):
        if optimizer_variables is not None:
            raise errors.ConfigurationError(
                f"Model '{update.model.name}'.{update.owner}.stateless_apply: lamina threads "
                "the state of an optimizer kept as an attribute; expected "
                "optimizer_variables=None, received a value.")
        return update(grads, trainable_variables), None

    return apply
