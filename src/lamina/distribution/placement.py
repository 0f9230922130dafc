"""Placement: one distribution applied to one model (used by the training code).

It gives every variable of the model a sharding (its optimizer entries get the same one),
and wraps the compiled train / test / predict steps of `lamina.training.step` in a
`jax.jit` with explicit input and output shardings. Before each call every argument is put
on its layout: `place_variables` stores the placed value in the variable itself (a no-op for
what the previous step returned; one transfer for freshly loaded weights or values left on
another mesh), and the wrappers place the optimizer and metric state and the batch. The
compiled step thus always sees committed arrays of one layout and compiles once.
"""
import jax
import numpy as np

from lamina.core import tree
from lamina.errors import ConfigurationError
from lamina.training.state import CompiledStep, TrainState


def mixed_devices_error(owner, variables):
    """The error for a call without a distribution whose variables sit on different device
    sets (left there by the distributions they last ran under), or None if they do not."""
    groups = {}
    for variable in variables:
        value = variable._value
        if getattr(value, "committed", False):
            ids = tuple(sorted(d.id for d in value.sharding.device_set))
            groups.setdefault(ids, []).append(variable.path)
    if len(groups) < 2:
        return None
    where = "; ".join(f"{paths[:3]}{' ...' if len(paths) > 3 else ''} on devices {list(ids)}"
                      for ids, paths in groups.items())
    return ConfigurationError(
        f"Model '{owner}': its variables live on devices of different meshes ({where}), left "
        "there by the distributions they last ran under, so one step cannot run on them. Run "
        "this call under one distribution (`with lamina.distribution.scope(...)` or "
        "compile(distribution=...)), which moves every variable to its layout.")


def _put(value, sharding):
    if value is None or getattr(value, "sharding", None) == sharding:
        return value
    return jax.device_put(value, sharding)


class Placement:
    """Shardings of one model's variables under `distribution`.

    Args:
        distribution: a `DataParallel` or `ModelParallel`.
        model: the root model; variables are named by their path in it (`save_weights`'s
            names), which is what `LayoutMap` rules are matched against.
    """

    def __init__(self, distribution, model):
        variables = tree.variable_paths(model)
        specs = distribution.variable_specs(model.name,
                                            {p: v.shape for p, v in variables.items()})
        self.distribution = distribution
        self.owner = model.name
        self._shapes = {v.uid: v.shape for v in variables.values()}
        self._by_uid = {v.uid: distribution.sharding(specs[p]) for p, v in variables.items()
                        if p in specs}
        # in a multi-process run each process feeds its own part of the global batch
        self.multi_process = jax.process_count() > 1

    def of(self, uid):
        """The sharding of variable `uid` (replicated unless a layout rule says otherwise)."""
        return self._by_uid.get(uid, self.distribution.replicated)

    def opt_state_shardings(self, opt_state):
        """A sharding per leaf of `opt_state`: a variable's own layout for its per-variable
        entries (moments have the variable's shape), replicated for shared scalars."""

        def leaf(path, value):
            for key in path:
                uid = getattr(key, "key", None)
                if (isinstance(key, jax.tree_util.DictKey) and isinstance(uid, int)
                        and uid in self._shapes
                        and tuple(np.shape(value)) == self._shapes[uid]):
                    return self.of(uid)
            return self.distribution.replicated

        return jax.tree_util.tree_map_with_path(leaf, opt_state)

    # -- putting arrays on their layout --------------------------------------------------
    def place_variables(self, variables):
        """Store each variable's value on its layout (where it is not there yet)."""
        for variable in variables:
            sharding = self.of(variable.uid)
            value = variable._value
            if value.sharding != sharding:
                variable.set_stored(jax.device_put(value, sharding))

    def batch(self, tree):
        """`tree` (x, y or sample weights) split over the batch axis, after checking that it
        divides; in a multi-process run `tree` is this process's part of the batch."""
        leaves = jax.tree_util.tree_leaves(tree)
        if not leaves:
            return tree
        sharding = self.distribution.batch_sharding
        processes = jax.process_count() if self.multi_process else 1
        self.distribution.check_batch(leaves[0].shape[0] * processes, self.owner)
        if processes == 1:
            return jax.device_put(tree, sharding)
        return jax.tree_util.tree_map(
            lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), tree)

    def replicate(self, tree):
        return jax.tree_util.tree_map(lambda v: _put(v, self.distribution.replicated), tree)

    def outputs(self, tree):
        """Batch-split outputs as numpy: the whole batch, or in a multi-process run this
        process's part of it (the rows it fed)."""
        if not self.multi_process:
            return jax.tree_util.tree_map(np.asarray, tree)
        from jax.experimental import multihost_utils

        local = multihost_utils.global_array_to_host_local_array(
            tree, self.distribution.mesh.jax_mesh, self.distribution.batch_sharding.spec)
        return jax.tree_util.tree_map(np.asarray, local)

    # -- compiled steps ------------------------------------------------------------------
    def train_step(self, step, plan, opt_state):
        """The pure `step(state, x, y, sample_weight)` (`training.step.train_step_fn`) compiled
        with this placement's layouts: variables (placed by the caller) and optimizer entries
        where the placement says, metric state replicated, batches split; the state is donated
        as in the single-device step (`training.state.CompiledStep`)."""
        rep, batch = self.distribution.replicated, self.distribution.batch_sharding
        opt = self.opt_state_shardings(opt_state)
        held = TrainState([self.of(uid) for uid in plan.trained], None, opt, rep)
        return _PlacedStep(self, CompiledStep(
            step, in_shardings=(held, [self.of(uid) for uid in plan.other], batch, batch, batch),
            out_shardings=(held, rep)), opt)

    def test_step(self, step, uids):
        """`step` (`training.step.test_step_fn`, jitted) run with this placement's layouts (the
        caller places the variables first: `place_variables`)."""
        shardings = {uid: self.of(uid) for uid in uids}
        rep, batch = self.distribution.replicated, self.distribution.batch_sharding
        jitted = jax.jit(step, in_shardings=(shardings, rep, batch, batch, batch),
                         out_shardings=(rep, rep), donate_argnums=(1,))

        def run(values, metric_state, x, y, sample_weight):
            return jitted(values, self.replicate(metric_state), self.batch(x), self.batch(y),
                          self.batch(sample_weight))

        return run

    def predict_step(self, fn, uids):
        """Inference `fn(values, x)` with this placement's layouts (variables placed by the
        caller); outputs as numpy."""
        shardings = {uid: self.of(uid) for uid in uids}
        jitted = jax.jit(fn, in_shardings=(shardings, self.distribution.batch_sharding))

        def run(values, x):
            return self.outputs(jitted(values, self.batch(x)))

        return run


class _PlacedStep:
    """A compiled train step whose optimizer state, metric state and batch are put on their
    layouts before each call (`jitted`: the compiled function)."""

    def __init__(self, placement, compiled, opt_shardings):
        self.placement, self.compiled, self.opt = placement, compiled, opt_shardings
        self.jitted = compiled.jitted

    def __call__(self, state, x, y, sample_weight):
        placement = self.placement
        state = state._replace(opt_state=jax.tree_util.tree_map(_put, state.opt_state, self.opt),
                               metrics=placement.replicate(state.metrics))
        return self.compiled(state, placement.batch(x), placement.batch(y),
                             placement.batch(sample_weight))
