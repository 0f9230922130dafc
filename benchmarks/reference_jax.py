"""Hand-written JAX + optax training loops for W1-W4: the least framework overhead JAX allows.

Each workload is one `jax.jit` train step with its state donated, driven by a Python loop that
gathers every batch on the host, the way `fit` is driven on a CPU. W2 takes the gradient only
with respect to the head; the frozen hidden layers ride along in the state untouched.

W3 comes in two variants:

- "unfused" (`w3(sizes)`): three jitted calls per iteration (G forward, D step, G step through
  D) and a host sync on both losses: the structure of a `train_on_batch` loop. run.py compares
  lamina's `train_on_batch` W3 with this one.
- "fused" (`w3(sizes, fused=True)`): both half-steps in one jitted call per iteration, the
  structure of `lamina.models.GAN.fit`.

Every function takes a `common.Sizes` and returns the result dict of `common.epoch_result`
(W1, W2, W4) or `common.time_gan` (W3), with a "sanity" entry.
"""
from functools import partial

import common as C
import jax
import jax.numpy as jnp
import numpy as np
import optax

VERSIONS = {"jax": jax.__version__, "optax": optax.__version__}


# ---- building blocks -------------------------------------------------------------------------
def init_dense_stack(key, widths):
    """He-normal weights and zero biases for dense layers widths[0] -> ... -> widths[-1]."""
    layers = []
    keys = jax.random.split(key, len(widths) - 1)
    for k, n_in, n_out in zip(keys, widths[:-1], widths[1:], strict=True):
        layers.append({"w": jax.random.normal(k, (n_in, n_out)) * np.sqrt(2.0 / n_in),
                       "b": jnp.zeros((n_out,))})
    return layers


def apply_dense_stack(layers, x, activation):
    """`activation` after every layer but the last, which returns logits."""
    *hidden, last = layers
    for layer in hidden:
        x = activation(x @ layer["w"] + layer["b"])
    return x @ last["w"] + last["b"]


def class_loss(logits, labels):
    """Softmax cross-entropy on integer labels (softmax output + sparse CE, fused)."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def host_copy(tree):
    return [np.array(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def make_step(loss_of_params, optimizer):
    """A jitted train step `(params, opt_state), xb, yb -> (params, opt_state), loss`."""
    @partial(jax.jit, donate_argnums=(0,))
    def step(state, xb, yb):
        params, opt_state = state
        loss, grads = jax.value_and_grad(loss_of_params)(params, xb, yb)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss
    return step


def run_epochs(step, state, x, y, epochs, batch):
    """The epoch loop: host-side shuffle and gather, one jitted call per batch, a device sync
    at the end of each epoch. Returns (state, epoch times, mean loss per epoch)."""
    rng = np.random.default_rng(C.SEED + 7)
    times, losses = [], []
    for _ in range(epochs):
        def epoch(state):
            batch_losses = []
            for idx in C.shuffled_batches(len(x), batch, rng):
                state, loss = step(state, x[idx], y[idx])
                batch_losses.append(loss)
            jax.block_until_ready(state)
            return state, float(jnp.mean(jnp.stack(batch_losses)))

        (state, loss), seconds = C.timed(epoch, state)
        times.append(seconds)
        losses.append(loss)
    return state, times, losses


# ---- W1 / W2 -------------------------------------------------------------------------------
def mlp_loss(layers, xb, yb):
    """W1's loss: the dense stack (relu) with the fused softmax cross-entropy."""
    return class_loss(apply_dense_stack(layers, xb, jax.nn.relu), yb)


def make_head_step(optimizer):
    """W2's jitted train step `((head, opt_state), base), xb, yb -> (state, loss)`: the
    gradient is taken w.r.t. the head only. The base is part of the donated state (so XLA
    aliases it through) but gets no gradient and no optimiser state."""
    @partial(jax.jit, donate_argnums=(0,))
    def step(state, xb, yb):
        (head, opt_state), base = state
        loss, grads = jax.value_and_grad(lambda h: mlp_loss(base + [h], xb, yb))(head)
        updates, opt_state = optimizer.update(grads, opt_state, head)
        return ((optax.apply_updates(head, updates), opt_state), base), loss
    return step


def mlp(sizes, frozen):
    """W1 (frozen=False) or W2 (frozen=True: the gradient is taken w.r.t. the head only)."""
    x, y = C.mlp_data(sizes.mlp_samples)
    hidden = sizes.mlp_hidden
    layers = init_dense_stack(jax.random.PRNGKey(C.SEED), [C.MLP_IN, hidden, hidden, C.MLP_OUT])
    adam = optax.adam(C.LR)
    base_before, head_before = host_copy(layers[:2]), host_copy(layers[2])

    if frozen:
        step = make_head_step(adam)
        state = ((layers[2], adam.init(layers[2])), layers[:2])
    else:
        step = make_step(mlp_loss, adam)
        state = (layers, adam.init(layers))

    state, times, losses = run_epochs(step, state, x, y, sizes.mlp_epochs, sizes.mlp_batch)
    sanity = C.Sanity().epoch_losses(losses)
    if frozen:
        (head, _), base = state
        sanity.check("frozen layers unchanged", C.same_arrays(host_copy(base), base_before))
    else:
        head = state[0][2]
    sanity.check("head changed", C.all_changed(head_before, host_copy(head)))
    return {**C.epoch_result(len(x), times, losses), "sanity": sanity}


def w1(sizes):
    return mlp(sizes, frozen=False)


def w2(sizes):
    return mlp(sizes, frozen=True)


# ---- W3 GAN --------------------------------------------------------------------------------
def w3(sizes, fused=False):
    """The GAN; `fused` puts both half-steps of an iteration in one jitted call."""
    leaky = partial(jax.nn.leaky_relu, negative_slope=C.LEAKY_SLOPE)
    g_key, d_key = jax.random.split(jax.random.PRNGKey(C.SEED))
    g_params = init_dense_stack(g_key, [C.GAN_LATENT, C.GAN_HIDDEN, C.GAN_HIDDEN, C.GAN_OUT])
    d_params = init_dense_stack(d_key, [C.GAN_OUT, C.GAN_HIDDEN, C.GAN_HIDDEN, 1])
    g_opt = optax.adam(C.GAN_LR, b1=C.GAN_BETA1)
    d_opt = optax.adam(C.GAN_LR, b1=C.GAN_BETA1)

    def generate(g, z):
        return jnp.tanh(apply_dense_stack(g, z, leaky))

    def d_logits(d, images):  # sigmoid output + binary CE, fused as logits
        return apply_dense_stack(d, images, leaky)[:, 0]

    def d_loss(d, real, fake):
        logits = d_logits(d, jnp.concatenate([real, fake]))
        targets = jnp.concatenate([jnp.ones(len(real)), jnp.zeros(len(fake))])
        return optax.sigmoid_binary_cross_entropy(logits, targets).mean()

    def g_loss(g, d, z):
        logits = d_logits(d, generate(g, z))
        return optax.sigmoid_binary_cross_entropy(logits, jnp.ones_like(logits)).mean()

    def d_step(d, d_state, real, fake):
        loss, grads = jax.value_and_grad(d_loss)(d, real, fake)
        updates, d_state = d_opt.update(grads, d_state, d)
        return optax.apply_updates(d, updates), d_state, loss

    def g_step(g, g_state, d, z):  # differentiates w.r.t. G only: D is held fixed
        loss, grads = jax.value_and_grad(g_loss)(g, d, z)
        updates, g_state = g_opt.update(grads, g_state, g)
        return optax.apply_updates(g, updates), g_state, loss

    feed = C.GanFeeder(sizes.gan_batch)
    if fused:
        @partial(jax.jit, donate_argnums=(0,))
        def both_steps(state, real, z):
            g, d, g_state, d_state = state
            d, d_state, dl = d_step(d, d_state, real, generate(g, z))
            g, g_state, gl = g_step(g, g_state, d, z)
            return (g, d, g_state, d_state), dl, gl

        def iteration(state):
            return both_steps(state, feed.real(), feed.noise())
    else:
        generate_jit = jax.jit(generate)
        d_step_jit = jax.jit(d_step, donate_argnums=(0, 1))
        g_step_jit = jax.jit(g_step, donate_argnums=(0, 1))

        def iteration(state):
            g, d, g_state, d_state = state
            z = feed.noise()
            d, d_state, dl = d_step_jit(d, d_state, feed.real(), generate_jit(g, z))
            dl = float(dl)  # the host sync a train_on_batch loop has
            g, g_state, gl = g_step_jit(g, g_state, d, z)
            return (g, d, g_state, d_state), dl, float(gl)

    g_before, d_before = host_copy(g_params), host_copy(d_params)
    state = (g_params, d_params, g_opt.init(g_params), d_opt.init(d_params))
    (state, _, _), first = C.timed(lambda st: jax.block_until_ready(iteration(st)), state)
    for _ in range(sizes.gan_warmup - 1):
        state, _, _ = iteration(state)
    jax.block_until_ready(state)
    state, result = C.time_gan(iteration, state, sizes, jax.block_until_ready)
    sanity = C.Sanity()
    sanity.check("losses finite", np.all(np.isfinite(result["d_losses"] + result["g_losses"])))
    sanity.check("D changed", C.all_changed(d_before, host_copy(state[1])))
    sanity.check("G changed", C.all_changed(g_before, host_copy(state[0])))
    return {**result, "first_iter_s": first, "sanity": sanity}


# ---- W4 CNN --------------------------------------------------------------------------------
def w4(sizes):
    x, y = C.cnn_data(sizes.cnn_samples)
    keys = jax.random.split(jax.random.PRNGKey(C.SEED), 3)

    def he(key, shape, fan_in):
        return jax.random.normal(key, shape) * np.sqrt(2.0 / fan_in)

    params = {"conv1": {"w": he(keys[0], (3, 3, 1, 32), 9), "b": jnp.zeros(32)},
              "conv2": {"w": he(keys[1], (3, 3, 32, 64), 9 * 32), "b": jnp.zeros(64)},
              "dense": {"w": he(keys[2], (C.CNN_FLAT, C.CNN_CLASSES), C.CNN_FLAT),
                        "b": jnp.zeros(C.CNN_CLASSES)}}

    def conv_relu_pool(x, layer):
        x = jax.lax.conv_general_dilated(x, layer["w"], (1, 1), "VALID",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        x = jax.nn.relu(x + layer["b"])
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                     "VALID")

    def logits(p, images):
        h = conv_relu_pool(conv_relu_pool(images, p["conv1"]), p["conv2"])
        return h.reshape(len(h), -1) @ p["dense"]["w"] + p["dense"]["b"]

    adam = optax.adam(C.LR)
    before = host_copy(params)
    step = make_step(lambda p, xb, yb: class_loss(logits(p, xb), yb), adam)
    state, times, losses = run_epochs(step, (params, adam.init(params)), x, y,
                                      sizes.cnn_epochs, sizes.cnn_batch)
    sanity = C.Sanity().epoch_losses(losses)
    sanity.check("every weight changed", C.all_changed(before, host_copy(state[0])))
    return {**C.epoch_result(len(x), times, losses), "sanity": sanity}


WORKLOADS = {"w1": w1, "w2": w2, "w3": w3, "w4": w4}
