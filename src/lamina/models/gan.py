"""GAN: a generator and a discriminator trained alternately, each by its own optimizer, in
one `fit` call.

    gan = lamina.models.GAN(generator, discriminator, latent_dim=64)
    gan.compile(d_optimizer=lamina.optimizers.Adam(2e-4),
                g_optimizer=lamina.optimizers.Adam(2e-4),
                loss_fn="binary_crossentropy")
    gan.fit(real_images, batch_size=128, epochs=10, callbacks=[...])

Every training step runs, fused in ONE jitted call:

1. the discriminator step: latent vectors `z ~ N(0, 1)` are drawn (from the GAN's seed
   state, so a run is reproducible and resumable), `fake = generator(z)`; the loss is
   `loss_fn` over `discriminator(real)` labelled 1 and `discriminator(fake)` labelled 0 (one
   concatenated batch); only the discriminator's trained variables are updated, by
   `d_optimizer`. The generator is frozen in the GAN's scope for this step (docs/design.md rule 2):
   it runs in inference mode and is a constant.
2. the generator step: new `z`, loss `loss_fn(1, discriminator(generator(z)))` with the
   *updated* discriminator frozen in the GAN's scope (its BatchNormalization layers run in
   inference mode, no gradient reaches its weights); only the generator's trained
   variables are updated, by `g_optimizer`.

`loss_fn` takes `(y_true, y_pred)` like any lamina loss; with `"binary_crossentropy"` the
discriminator ends in a sigmoid (pass `lamina.losses.BinaryCrossentropy(from_logits=True)`
for a linear output). Trainability follows docs/design.md section 2 from the GAN as root: setting
`gan.discriminator.trainable = False` (or `gan.freeze(...)`) between epochs keeps the
discriminator fixed from the next step on, with its optimizer state kept.

The logs are `d_loss` and `g_loss` (running means over the epoch). Callbacks, progress,
`ModelCheckpoint(save_weights_only=True)` and `BackupAndRestore` work as for any model;
both optimizer states are checkpointed and a resumed fit continues bit for bit.
`model.optimizer` is the discriminator's optimizer (the one `ReduceLROnPlateau` and the
checkpoint's learning rate follow); `gan.g_optimizer` is the generator's.
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lamina import errors, trainability
from lamina import losses as losses_lib
from lamina import optimizers as optimizers_lib
from lamina.core import scope as scope_lib
from lamina.core import trainability_version
from lamina.core.lowering import convolution
from lamina.models.model import Model
from lamina.optimizers import loss_scale
from lamina.random import SeedGenerator
from lamina.training import compile as compile_lib
from lamina.training import opt_state as opt_state_lib
from lamina.training.state import CompiledStep, Plan, TrainState, assign
from lamina.training.trainer import nothing_trainable_error

LOG_NAMES = ["d_loss", "g_loss"]


class GAN(Model):
    """A generator and a discriminator trained alternately in one `fit` (see the module doc).

    Args:
        generator: a model (or layer) mapping latent vectors `(batch, latent_dim)` to samples.
        discriminator: a model mapping samples to one score per sample `(batch, 1)`.
        latent_dim: the size of the latent vectors.
        seed: seed of the latent draws (default: from `lamina.random`).
        name: the model's name.

    Calling the GAN on latent vectors runs the generator: `gan(z)` / `gan.predict(z)`.
    """

    def __init__(self, generator, discriminator, latent_dim, seed=None, name=None):
        super().__init__(name=name)
        if not isinstance(latent_dim, (int, np.integer)) or latent_dim < 1:
            raise errors.ConfigurationError(
                f"GAN '{self.name}': expected a positive integer latent_dim, "
                f"received {latent_dim!r}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.seed_generator = SeedGenerator(seed, owner=self)

    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)

    def compile(self, d_optimizer="adam", g_optimizer="adam", loss_fn="binary_crossentropy",
                seed=None):
        """Set up the two optimizers and the loss (any lamina loss, name or function)."""
        self._trainer = GANTrainer(self, d_optimizer, g_optimizer, loss_fn, seed)

    @property
    def d_optimizer(self):
        return self._require_trainer("d_optimizer").d_optimizer

    @property
    def g_optimizer(self):
        return self._require_trainer("g_optimizer").g_optimizer

    def fit(self, x=None, y=None, **kwargs):
        """`Model.fit` on real samples `x` (no targets: `y` must be None): arrays, or a
        generator, iterable or PyDataset whose batches are the real samples."""
        if y is not None:
            raise errors.InputSpecError(
                f"GAN '{self.name}'.fit: expected only real samples `x` (the labels real=1 / "
                f"fake=0 are made by the step), received targets y of type "
                f"{type(y).__name__}. Call fit(x) without y.")
        return super().fit(x, **kwargs)

    def evaluate(self, *args, **kwargs):
        raise errors.NotSupportedError(
            f"GAN '{self.name}' has no evaluation loss: evaluate the discriminator or the "
            "generator's samples directly (gan.discriminator.evaluate(...)).")


class GANTrainer:
    """What `GAN.compile` creates: two optimizer states and the fused D-then-G step.

    It offers what `fit`, the callbacks and the checkpoints read from a trainer
    (`train_step`, `log_names`, `opt_state`, `tx`, `metric_state`, `iterations`, ...).
    """

    needs_targets = False  # the step makes its own labels (real = 1, fake = 0)
    gathers_batches = False  # fit sends each batch of real samples with its step

    def __init__(self, model, d_optimizer, g_optimizer, loss_fn, seed):
        self.model = model
        # float16 layers get loss scaling, as in Model.compile
        self.d_optimizer = compile_lib.auto_wrap(model.discriminator,
                                                optimizers_lib.get(d_optimizer))
        self.g_optimizer = compile_lib.auto_wrap(model.generator, optimizers_lib.get(g_optimizer))
        if self.d_optimizer is self.g_optimizer:
            raise errors.ConfigurationError(
                f"GAN '{model.name}'.compile: d_optimizer and g_optimizer are the same object; "
                "pass two optimizers (each keeps its own learning rate).")
        self.optimizer = self.d_optimizer
        self._txs = {"discriminator": self.d_optimizer.build(model.discriminator),
                     "generator": self.g_optimizer.build(model.generator)}
        for optimizer in (self.d_optimizer, self.g_optimizer):
            optimizer._listeners.append(self._set_learning_rate)
        self.loss_fn = losses_lib.get(loss_fn)
        self.seed = seed
        self.steps_per_execution = 1
        self.distribution = None
        self.log_names = list(LOG_NAMES)
        self.output_names = ["output"]
        self.specs = []
        self.opt_state = None
        self._opt_keys = frozenset()
        self.metric_state = None
        self._steps = {}
        self._version = None
        self._resolution = None
        self.iterations = 0
        self.fit_position = None
        self.reset_metrics()

    # -- what fit and the checkpoints read --------------------------------------------
    @property
    def tx(self):
        """A transform whose `init` builds both optimizer states from uid -> value (what
        checkpoint restore calls)."""
        return optax.GradientTransformation(self._init_state, None)

    def _side(self, uid):
        return "discriminator" if uid in self._d_uids else "generator"

    def _init_state(self, params):
        return {side: self._txs[side].init({u: v for u, v in params.items()
                                            if self._side(u) == side})
                for side in self._txs}

    def ensure_ready(self, x):
        model = self.model
        if getattr(self, "_d_uids", None) is not None:
            return
        spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), x)
        batch = jax.tree_util.tree_leaves(spec)[0].shape[0]

        def build(real):
            scope = scope_lib.CallScope({})
            with scope_lib.activate(scope):
                fake = model.generator(jnp.zeros((batch, model.latent_dim)), training=False)
                model.discriminator(real, training=False)
                model.discriminator(fake, training=False)

        convolution.eval_shape(build, spec)
        model.built = True
        self._d_uids = frozenset(v.uid for v in model.discriminator.variables)
        self._g_uids = frozenset(v.uid for v in model.generator.variables)

    def reset_metrics(self):
        self.metric_state = {name: (jnp.zeros(()), jnp.zeros(())) for name in LOG_NAMES}

    def active_distribution(self):
        return None

    def resolution(self):
        version = trainability_version.current()
        if version != self._version:
            self._resolution = trainability.resolve(self.model)
            self._version = version
        return self._resolution

    def logs_dict(self, logs):
        return {name: float(value) for name, value in zip(self.log_names, logs, strict=True)}

    def _set_learning_rate(self, _value=None):
        """Write each optimizer's current rate into its injected hyperparameters."""
        if self.opt_state is None:
            return
        for side, optimizer in (("discriminator", self.d_optimizer),
                                ("generator", self.g_optimizer)):
            hyperparams = getattr(loss_scale.inner_state(self.opt_state[side]), "hyperparams",
                                  None)
            if hyperparams is not None and "learning_rate" in hyperparams:
                old = hyperparams["learning_rate"]
                hyperparams["learning_rate"] = jnp.asarray(optimizer.learning_rate, old.dtype)

    # -- the step ------------------------------------------------------------------------
    def _step_plan(self):
        """(Plan, compiled step) of the live configuration: the trained variables are the
        discriminator's then the generator's."""
        resolution = self.resolution()
        trained = resolution.trained
        if not trained:
            raise nothing_trainable_error(self.model, resolution)
        keys = frozenset(v.uid for v in trained)  # entries made at a variable's first step
        if keys - self._opt_keys:  # newly trained variables: extend both states
            self._opt_keys = keys | self._opt_keys
            params = {v.uid: v.value for v in resolution.variables if v.uid in self._opt_keys}
            fresh = self._init_state(params)
            self.opt_state = fresh if self.opt_state is None else {
                side: opt_state_lib.merge(fresh[side], self.opt_state[side],
                                          {u for u in params if self._side(u) == side})
                for side in fresh}
            self._set_learning_rate()
        sides = {"discriminator": [v for v in trained if v.uid in self._d_uids],
                 "generator": [v for v in trained if v.uid in self._g_uids]}
        plan = Plan.of((resolution.key, self._opt_keys),
                       sides["discriminator"] + sides["generator"], resolution.not_trained)
        step = self._steps.get(plan.key)
        if step is None:
            covered = {side: frozenset(u for u in self._opt_keys if self._side(u) == side)
                       for side in sides}
            for side, variables in sides.items():
                if variables:
                    opt_state_lib.check_split(
                        self._txs[side], self.opt_state[side], covered[side], variables,
                        resolution.variables, f"GAN '{self.model.name}' ({side})")
            step = self._steps[plan.key] = CompiledStep(gan_step_fn(
                self.model, self._txs, self.loss_fn, covered, sides, plan))
        return plan, step

    def train_step(self, x, y=None, sample_weight=None, reset_metrics=False):
        """One discriminator step then one generator step on the real batch `x`."""
        self.ensure_ready(x)
        plan, step = self._step_plan()
        state = plan.state(self.opt_state, None if reset_metrics else self.metric_state)
        state, logs = step(state, x)
        plan.write_back(state)
        self.opt_state, self.metric_state = state.opt_state, state.metrics
        self.iterations += 1
        return logs

    def train_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        logs = self.logs_dict(self.train_step(jnp.asarray(x), reset_metrics=True))
        return logs if return_dict else list(logs.values())

    def test_step(self, *args, **kwargs):
        raise errors.NotSupportedError(f"GAN '{self.model.name}' has no evaluation step.")


def _scope_path(gan, frozen):
    """The GAN's root use path with `frozen` frozen in the GAN's scope (for one half-step)."""
    path = trainability.root_path(gan)
    return dataclasses.replace(path, frozen_by={**path.frozen_by, id(frozen): gan})


def gan_step_fn(gan, txs, loss_fn, covered, sides, plan):
    """The pure fused step `step(state, real) -> (state, [d_loss, g_loss])` on a
    `TrainState` whose `trained` holds the values of `sides["discriminator"]` then of
    `sides["generator"]` (the variables each side trains), and whose `opt_state` maps each
    side to its optimizer state; `covered[side]`: the uids that state covers."""
    d_uids = [v.uid for v in sides["discriminator"]]
    g_uids = [v.uid for v in sides["generator"]]
    constrained = {side: [v for v in variables if v.constraint is not None]
                   for side, variables in sides.items()}

    def train(side, loss_fn, params, opt_side):
        """(loss, updates, new params, new optimizer state) of one half-step; a side with
        nothing to train keeps its optimizer state untouched (step counts included)."""
        if not params:
            loss, updates = loss_fn(params)
            return loss, updates, params, opt_side
        (loss, updates), grads = loss_scale.value_and_grad(loss_fn, opt_side)(params)
        new, opt_side = opt_state_lib.apply_gradients(
            txs[side], opt_side, params, grads, constrained[side], covered[side])
        return loss, updates, new, opt_side

    def step(state, real):
        d = dict(zip(d_uids, state.trained[:len(d_uids)], strict=True))
        g = dict(zip(g_uids, state.trained[len(d_uids):], strict=True))
        other = dict(zip(plan.other, state.other, strict=True))
        batch = jax.tree_util.tree_leaves(real)[0].shape[0]

        def d_loss_fn(d):
            def body():
                fake = gan.generator(_latent(gan, batch))
                scores = jnp.concatenate([gan.discriminator(real), gan.discriminator(fake)])
                labels = jnp.concatenate([jnp.ones((batch, 1)), jnp.zeros((batch, 1))])
                return loss_fn(labels.reshape(scores.shape[:1] + (1,) * (scores.ndim - 1)),
                               scores)
            return _half(gan, {**other, **g, **d}, gan.generator, body)

        d_loss, updates, d, d_state = train("discriminator", d_loss_fn, d,
                                            state.opt_state["discriminator"])
        other = {**other, **{u: v for u, v in updates.items() if u in other}}

        def g_loss_fn(g):
            def body():
                scores = gan.discriminator(gan.generator(_latent(gan, batch)))
                return loss_fn(jnp.ones(scores.shape[:1] + (1,) * (scores.ndim - 1)), scores)
            return _half(gan, {**other, **d, **g}, gan.discriminator, body)

        g_loss, updates, g, g_state = train("generator", g_loss_fn, g,
                                            state.opt_state["generator"])
        other = {**other, **{u: v for u, v in updates.items() if u in other}}
        metrics = _running_losses(state.metrics, batch, d_loss, g_loss)
        new = TrainState([d[u] for u in d_uids] + [g[u] for u in g_uids],
                         assign(plan.other, state.other, other, plan.kept),
                         {"discriminator": d_state, "generator": g_state}, metrics)
        return new, [s / jnp.maximum(c, 1.0) for s, c in metrics.values()]

    return step


def _half(gan, values, frozen_side, body):
    """(`body()`, the call's updates) run in a pure scope reading `values`, where
    `frozen_side` is frozen in the GAN's scope (one half-step's forward pass)."""
    scope = scope_lib.CallScope(values)
    with scope_lib.activate(scope):
        scope.frames.append(scope_lib.Frame(gan, True, True, _scope_path(gan, frozen_side)))
        try:
            loss = body()
        finally:
            scope.frames.pop()
    return loss, scope.updates


def _latent(gan, batch):
    """Latent vectors drawn from the GAN's seed state (advanced in the active scope)."""
    return jax.random.normal(gan.seed_generator.next(), (batch, gan.latent_dim))


def _running_losses(metrics, batch, d_loss, g_loss):
    """The running sums and counts of the two losses (None: restart at this batch)."""
    if metrics is None:
        metrics = {name: (jnp.zeros(()), jnp.zeros(())) for name in LOG_NAMES}
    return {name: (metrics[name][0] + value * batch, metrics[name][1] + batch)
            for name, value in zip(LOG_NAMES, (d_loss, g_loss), strict=True)}


LAYERS = (GAN,)
