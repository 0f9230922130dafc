"""Recurrent layers (SimpleRNN, LSTM, GRU, RNN and the cells).

- the generic harness on each class and its main options;
- forward and gradient agreement with the Keras gate equations unrolled over time in numpy
  (float64), masks, go_backwards and initial states included; gradients are checked as
  directional derivatives against central finite differences of that numpy reference;
- weight layout and outputs against Keras 3 itself (skipped only if keras cannot be imported);
- masks from a functional model, dropout, frozen cells, saving, and bad-input errors.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer

import lamina as lm
from lamina.core import scope as scope_lib
from lamina.errors import InputSpecError
from lamina.layers import recurrent, rnn_cells, wrappers
from lamina.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from lamina.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell
from lamina.saving import register_serializable

# the lead wires the exports; until then these tests register the classes themselves
for _cls in rnn_cells.LAYERS + recurrent.LAYERS + wrappers.LAYERS:
    register_serializable()(_cls)

FORWARD_RTOL, FORWARD_ATOL = 1e-5, 1e-5  # float32 layer vs float64 numpy reference
GRAD_RTOL, GRAD_ATOL = 2e-4, 2e-5  # float32 autodiff vs float64 central differences


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


def _ragged_mask(x):
    """A mask with a padded tail, a padded head and a fully valid row."""
    mask = np.ones(x.shape[:2], bool)
    mask[0, 3:] = False
    mask[1, :2] = False
    return mask


def _lstm_params(f, u):
    return 4 * (f * u + u * u + u)


def _gru_params(f, u, reset_after=True, use_bias=True):
    return 3 * (f * u + u * u) + (use_bias * (2 if reset_after else 1) * 3 * u)


HARNESS_CASES = [
    LayerCase("simple_rnn", lambda: SimpleRNN(4), _normal(3, 5, 2), (3, 4),
              trainable_params=2 * 4 + 16 + 4, supports_masking=True),
    LayerCase("simple_rnn-seq-backwards-mask",
              lambda: SimpleRNN(4, return_sequences=True, go_backwards=True, activation="relu"),
              _normal(3, 5, 2), (3, 5, 4), trainable_params=28, mask=_ragged_mask,
              expected_mask=lambda inputs, mask: mask),
    LayerCase("lstm-state-dropout",
              lambda: LSTM(3, return_state=True, dropout=0.3, recurrent_dropout=0.2, seed=4,
                           kernel_regularizer="l2"),
              _normal(3, 5, 2), [(3, 3)] * 3, trainable_params=_lstm_params(2, 3)),
    LayerCase("lstm-seq-mask-unroll", lambda: LSTM(3, return_sequences=True, unroll=True),
              _normal(3, 5, 2), (3, 5, 3), trainable_params=_lstm_params(2, 3),
              mask=_ragged_mask, expected_mask=lambda inputs, mask: mask),
    LayerCase("lstm-last-mask", lambda: LSTM(3), _normal(3, 5, 2), (3, 3),
              trainable_params=_lstm_params(2, 3), mask=_ragged_mask,
              expected_mask=lambda inputs, mask: None),
    LayerCase("gru-seq-state", lambda: GRU(3, return_sequences=True, return_state=True),
              _normal(3, 5, 2), [(3, 5, 3), (3, 3)], trainable_params=_gru_params(2, 3)),
    LayerCase("gru-reset-before-nobias",
              lambda: GRU(3, reset_after=False, use_bias=False, go_backwards=True),
              _normal(3, 5, 2), (3, 3),
              trainable_params=_gru_params(2, 3, reset_after=False, use_bias=False)),
    LayerCase("rnn-lstm-cell", lambda: RNN(LSTMCell(3), return_sequences=True),
              _normal(3, 4, 2), (3, 4, 3), trainable_params=_lstm_params(2, 3),
              mask=_ragged_mask, expected_mask=lambda inputs, mask: mask),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- numpy references: the Keras 3 cell equations, unrolled over time ----------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_simple_rnn_step(x, states, weights):
    kernel, recurrent_kernel, bias = weights
    h = np.tanh(x @ kernel + states[0] @ recurrent_kernel + bias)
    return h, [h]


def np_lstm_step(x, states, weights):
    kernel, recurrent_kernel, bias = weights
    h, c = states
    u = h.shape[1]
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f = _sigmoid(z[:, :u]), _sigmoid(z[:, u:2 * u])
    g, o = np.tanh(z[:, 2 * u:3 * u]), _sigmoid(z[:, 3 * u:])
    c = f * c + i * g
    h = o * np.tanh(c)
    return h, [h, c]


def np_gru_step(reset_after):
    def step(x, states, weights):
        kernel, recurrent_kernel, bias = weights
        h = states[0]
        u = h.shape[1]
        input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, None)
        x_z = x @ kernel[:, :u] + input_bias[:u]
        x_r = x @ kernel[:, u:2 * u] + input_bias[u:2 * u]
        x_h = x @ kernel[:, 2 * u:] + input_bias[2 * u:]
        if reset_after:
            z = _sigmoid(x_z + h @ recurrent_kernel[:, :u] + recurrent_bias[:u])
            r = _sigmoid(x_r + h @ recurrent_kernel[:, u:2 * u] + recurrent_bias[u:2 * u])
            candidate = np.tanh(x_h + r * (h @ recurrent_kernel[:, 2 * u:]
                                           + recurrent_bias[2 * u:]))
        else:
            z = _sigmoid(x_z + h @ recurrent_kernel[:, :u])
            r = _sigmoid(x_r + h @ recurrent_kernel[:, u:2 * u])
            candidate = np.tanh(x_h + (r * h) @ recurrent_kernel[:, 2 * u:])
        h = z * h + (1.0 - z) * candidate
        return h, [h]

    return step


def np_rnn(step, x, weights, states, mask=None, go_backwards=False):
    """(outputs in processing order (batch, T, u), final states), Python loop over time."""
    outputs = []
    times = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    for t in times:
        output, new_states = step(x[:, t], states, weights)
        if mask is not None:  # a masked step keeps the states and repeats the last output
            valid = mask[:, t][:, None]
            new_states = [np.where(valid, n, s) for n, s in zip(new_states, states, strict=True)]
            output = np.where(valid, output, states[0])
        states = new_states
        outputs.append(output)
    return np.stack(outputs, axis=1), states


KINDS = {
    # name: (layer factory, numpy step, number of states, weight shapes for (features f, units u))
    "simple_rnn": (SimpleRNN, np_simple_rnn_step, 1,
                   lambda f, u: [(f, u), (u, u), (u,)]),
    "lstm": (LSTM, np_lstm_step, 2, lambda f, u: [(f, 4 * u), (u, 4 * u), (4 * u,)]),
    "gru": (GRU, np_gru_step(True), 1, lambda f, u: [(f, 3 * u), (u, 3 * u), (2, 3 * u)]),
    "gru_reset_before": (lambda units, **kw: GRU(units, reset_after=False, **kw),
                         np_gru_step(False), 1, lambda f, u: [(f, 3 * u), (u, 3 * u), (3 * u,)]),
}

OPTIONS = {
    "plain": {"mask": False, "go_backwards": False, "initial_state": False},
    "mask-backwards-state": {"mask": True, "go_backwards": True, "initial_state": True},
}


def _pure_call(layer, values, x, **kwargs):
    """The layer as a pure function of its weight values (uid -> array), for jax.grad."""
    with scope_lib.activate(scope_lib.CallScope(values)):
        return layer(x, **kwargs)


def _problem(kind, options, batch=3, steps=5, features=2, units=3, seed=0):
    rng = np.random.default_rng(seed)
    make, np_step, n_states, shapes = KINDS[kind]
    x = rng.normal(size=(batch, steps, features))
    weights = [rng.normal(scale=0.6, size=s) for s in shapes(features, units)]
    states = ([rng.normal(scale=0.5, size=(batch, units)) for _ in range(n_states)]
              if options["initial_state"] else None)
    mask = _ragged_mask(x) if options["mask"] else None
    layer = make(units, return_sequences=True, return_state=True,
                 go_backwards=options["go_backwards"])
    layer(x.astype(np.float32))
    layer.set_weights([w.astype(np.float32) for w in weights])
    return layer, np_step, x, weights, states, mask, n_states


@pytest.mark.parametrize("options", list(OPTIONS), ids=str)
@pytest.mark.parametrize("kind", list(KINDS), ids=str)
def test_forward_and_gradient_match_numpy_recurrence(kind, options):
    layer, np_step, x, weights, states, mask, n_states = _problem(kind, OPTIONS[options])
    units = layer.units
    zero_states = [np.zeros((x.shape[0], units)) for _ in range(n_states)]
    rng = np.random.default_rng(1)
    # the scalar whose gradient is checked: a random projection of every output
    out_w = rng.normal(size=(x.shape[0], x.shape[1], units))
    state_w = [rng.normal(size=(x.shape[0], units)) for _ in range(n_states)]

    def np_scalar(x_, weights_, states_):
        seq, final = np_rnn(np_step, x_, weights_, states_ if states_ is not None
                            else zero_states, mask, OPTIONS[options]["go_backwards"])
        return np.sum(seq * out_w) + sum(np.sum(s * w) for s, w in zip(final, state_w, strict=True))

    # forward: the sequence (in processing order), the last output and the final states
    kwargs = {"mask": mask} if mask is not None else {}
    if states is not None:
        kwargs["initial_state"] = [s.astype(np.float32) for s in states]
    seq, *final = layer(x.astype(np.float32), **kwargs)
    ref_seq, ref_final = np_rnn(np_step, x, weights, states if states is not None
                                else zero_states, mask, OPTIONS[options]["go_backwards"])
    np.testing.assert_allclose(seq, ref_seq, rtol=FORWARD_RTOL, atol=FORWARD_ATOL)
    assert len(final) == n_states
    for got, want in zip(final, ref_final, strict=True):
        np.testing.assert_allclose(got, want, rtol=FORWARD_RTOL, atol=FORWARD_ATOL)

    # gradient w.r.t. the inputs, every weight and the initial states
    uids = [v.uid for v in layer.weights]

    def scalar(x_, weight_values, states_):
        kw = dict(kwargs)
        if states_ is not None:
            kw["initial_state"] = states_
        seq_, *final_ = _pure_call(layer, dict(zip(uids, weight_values, strict=True)), x_, **kw)
        return jnp.sum(seq_ * out_w) + sum(jnp.sum(s * w)
                                           for s, w in zip(final_, state_w, strict=True))

    def f32(arrays):
        return None if arrays is None else [np.float32(a) for a in arrays]

    grads = jax.grad(scalar, argnums=(0, 1, 2))(np.float32(x), f32(weights), f32(states))
    eps = 1e-6
    checks = [("inputs", x, grads[0], lambda d: (x + d, weights, states))]
    for i, w in enumerate(weights):
        checks.append((f"weight {i}", w, grads[1][i], lambda d, i=i: (
            x, [w_ + d if j == i else w_ for j, w_ in enumerate(weights)], states)))
    for i, s in enumerate(states or []):
        checks.append((f"initial state {i}", s, grads[2][i], lambda d, i=i: (
            x, weights, [s_ + d if j == i else s_ for j, s_ in enumerate(states)])))
    for name, value, grad, shifted in checks:
        direction = rng.normal(size=value.shape)
        numeric = (np_scalar(*shifted(eps * direction)) - np_scalar(*shifted(-eps * direction))
                   ) / (2 * eps)
        analytic = float(np.sum(np.asarray(grad, np.float64) * direction))
        np.testing.assert_allclose(analytic, numeric, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                                   err_msg=f"{kind}/{options}: d/d {name}")


def test_cells_compute_one_step_of_the_reference():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3))
    for cell, np_step, n_states in ((SimpleRNNCell(5), np_simple_rnn_step, 1),
                                    (LSTMCell(5), np_lstm_step, 2),
                                    (GRUCell(5), np_gru_step(True), 1),
                                    (GRUCell(5, reset_after=False), np_gru_step(False), 1)):
        states = [rng.normal(size=(4, 5)) for _ in range(n_states)]
        cell(np.float32(x), [np.float32(s) for s in states])
        weights = [rng.normal(scale=0.5, size=w.shape) for w in cell.get_weights()]
        cell.set_weights([np.float32(w) for w in weights])
        output, new_states = cell(np.float32(x), [np.float32(s) for s in states])
        ref_output, ref_states = np_step(x, states, weights)
        np.testing.assert_allclose(output, ref_output, rtol=FORWARD_RTOL, atol=FORWARD_ATOL)
        for got, want in zip(new_states, ref_states, strict=True):
            np.testing.assert_allclose(got, want, rtol=FORWARD_RTOL, atol=FORWARD_ATOL)
        if n_states == 1:  # a single state passed bare comes back bare, as Keras
            output, bare = cell(np.float32(x), np.float32(states[0]))
            np.testing.assert_allclose(bare, ref_states[0], rtol=FORWARD_RTOL,
                                       atol=FORWARD_ATOL)


class _MinimalCell(lm.layers.Layer):
    """Keras's documented example of a user cell: `h = x @ kernel + h_prev @ recurrent`."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, self.units), name="recurrent")

    def call(self, inputs, states):
        h = inputs @ self.kernel.value + states[0] @ self.recurrent_kernel.value
        return h, [h]


def test_rnn_runs_a_user_cell_and_trains_it():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(3, 4, 2))
    mask = _ragged_mask(x)
    layer = RNN(_MinimalCell(3), return_sequences=True, go_backwards=True)
    layer(np.float32(x))
    weights = [rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights()]
    layer.set_weights([np.float32(w) for w in weights])

    def np_step(x_t, states, w):
        h = x_t @ w[0] + states[0] @ w[1]
        return h, [h]

    expected, _ = np_rnn(np_step, x, weights, [np.zeros((3, 3))], mask, go_backwards=True)
    np.testing.assert_allclose(layer(np.float32(x), mask=mask), expected, rtol=FORWARD_RTOL,
                               atol=FORWARD_ATOL)
    inputs = lm.Input((4, 2))
    model = lm.Model(inputs, lm.layers.Dense(1)(RNN(layer.cell)(inputs)))
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(np.float32(x), np.ones((3, 1), np.float32))
    assert not np.array_equal(layer.get_weights()[0], np.float32(weights[0]))


def test_lstm_initial_bias_has_unit_forget_bias():
    layer = LSTM(3)
    layer(np.zeros((1, 2, 2), np.float32))
    np.testing.assert_array_equal(layer.get_weights()[2], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    plain = LSTM(3, unit_forget_bias=False, bias_initializer="ones")
    plain(np.zeros((1, 2, 2), np.float32))
    np.testing.assert_array_equal(plain.get_weights()[2], np.ones(12))


# -- Keras 3 itself -------------------------------------------------------------------------
def _keras():
    os.environ["KERAS_BACKEND"] = "jax"  # before keras is first imported
    return pytest.importorskip("keras")


# (Keras class, lamina class, options); LSTM forward is also in the initial-state test below
KERAS_CONFIGS = {
    "simple_rnn-backwards": ("SimpleRNN", SimpleRNN, {"go_backwards": True}),
    "lstm-backwards": ("LSTM", LSTM, {"go_backwards": True}),
    "gru-reset-after": ("GRU", GRU, {"reset_after": True}),
    "gru-reset-before-backwards": ("GRU", GRU, {"reset_after": False, "go_backwards": True}),
}


@pytest.mark.parametrize("config", list(KERAS_CONFIGS), ids=str)
def test_weight_layout_and_masked_outputs_match_keras(config):
    keras = _keras()
    keras_name, lamina_class, extra = KERAS_CONFIGS[config]
    options = dict(return_sequences=True, return_state=True, **extra)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    mask = _ragged_mask(x)
    theirs = getattr(keras.layers, keras_name)(4, **options)
    ours = lamina_class(4, **options)
    keras_out = theirs(x, mask=mask)
    ours(x)
    keras_weights = [np.asarray(v.value) for v in theirs.weights]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in keras_weights]
    assert [v.name for v in ours.weights] == [v.name for v in theirs.weights]
    # the same deterministic initial bias (LSTM: ones in the forget-gate block)
    np.testing.assert_array_equal(ours.get_weights()[-1], keras_weights[-1])
    ours.set_weights(keras_weights)
    our_out = ours(x, mask=mask)
    assert len(our_out) == len(keras_out)
    for a, b in zip(our_out, keras_out, strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-5)


def test_keras_lstm_with_initial_state():
    keras = _keras()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    h0, c0 = (rng.normal(size=(2, 5)).astype(np.float32) for _ in range(2))
    theirs, ours = keras.layers.LSTM(5), LSTM(5)
    expected = theirs(x, initial_state=[h0, c0])
    ours(x)
    ours.set_weights([np.asarray(v.value) for v in theirs.weights])
    np.testing.assert_allclose(ours(x, initial_state=[h0, c0]), np.asarray(expected),
                               rtol=1e-5, atol=1e-5)


# -- masks in a functional model --------------------------------------------------------
@register_serializable("TestRecurrentZeroPaddingMask")
class _ZeroPaddingMask(lm.layers.Layer):
    """Test-only: passes its input on and masks the all-zero time steps."""

    supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_mask(self, inputs, previous_mask):
        return jnp.any(inputs != 0, axis=-1)


def test_functional_mask_skips_padding_like_the_unpadded_sequence():
    rng = np.random.default_rng(5)
    inputs = lm.Input((None, 3))
    lstm, gru = LSTM(4, return_sequences=True), GRU(2)
    model = lm.Model(inputs, gru(lstm(_ZeroPaddingMask()(inputs))))
    short = rng.normal(size=(1, 3, 3)).astype(np.float32)
    pad = np.zeros((1, 2, 3), np.float32)
    expected = np.asarray(model(short))
    # padding after (post) and before (pre) the sequence changes nothing
    for padded in (np.concatenate([short, pad], 1), np.concatenate([pad, short], 1)):
        np.testing.assert_allclose(model(padded), expected, rtol=1e-6, atol=1e-6)
    # the mask is what made the difference: the same layers without it see the padding
    padded = np.concatenate([short, pad], 1)
    unmasked = lm.Model(inputs, gru(lstm(inputs)))
    np.testing.assert_allclose(unmasked(short), expected, rtol=1e-6, atol=1e-6)
    assert not np.allclose(unmasked(padded), expected, atol=1e-4)
    # and a training step runs with the mask
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    before = lstm.get_weights()
    model.train_on_batch(padded, np.ones((1, 2), np.float32))
    assert not np.array_equal(before[0], lstm.get_weights()[0])


def test_masked_sequence_output_and_zero_output_for_mask():
    x = np.random.default_rng(6).normal(size=(2, 4, 3)).astype(np.float32)
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    repeat = SimpleRNN(2, return_sequences=True)
    out = np.asarray(repeat(x, mask=mask))
    np.testing.assert_array_equal(out[0, 2], out[0, 1])  # masked steps repeat the output
    np.testing.assert_array_equal(out[0, 3], out[0, 1])
    zeros = SimpleRNN(2, return_sequences=True, zero_output_for_mask=True)
    zeros(x)
    zeros.set_weights(repeat.get_weights())
    out_zero = np.asarray(zeros(x, mask=mask))
    np.testing.assert_array_equal(out_zero[0, 2:], 0.0)
    np.testing.assert_array_equal(out_zero[0, :2], out[0, :2])
    np.testing.assert_array_equal(out_zero[1], out[1])
    assert repeat.compute_mask(x, mask) is mask
    stateful = LSTM(2, return_state=True, return_sequences=True)
    masks = stateful.compute_mask(x, mask)
    assert masks[0] is mask and masks[1:] == [None, None]


# -- dropout --------------------------------------------------------------------------------
def test_dropout_uses_one_mask_for_every_time_step_and_only_when_training():
    # identity kernel, no recurrence, linear: the output at each step is the dropped input
    layer = SimpleRNN(6, activation=None, dropout=0.5, return_sequences=True, seed=3)
    x = np.ones((4, 5, 6), np.float32)
    layer(x)
    layer.set_weights([np.eye(6, dtype=np.float32), np.zeros((6, 6), np.float32),
                       np.zeros(6, np.float32)])
    out = np.asarray(layer(x, training=True))
    assert set(np.unique(out)) <= {0.0, 2.0} and 0 < np.mean(out == 0) < 1
    for t in range(1, 5):
        np.testing.assert_array_equal(out[:, t], out[:, 0])
    again = np.asarray(layer(x, training=True))
    assert not np.array_equal(again, out)  # a fresh mask per call
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(layer(x), x)

    recurrent_only = SimpleRNN(6, activation=None, recurrent_dropout=0.5, return_sequences=True,
                               seed=3)
    recurrent_only(x)
    recurrent_only.set_weights([np.zeros((6, 6), np.float32), np.eye(6, dtype=np.float32),
                                np.ones(6, np.float32)])
    # h_t = h_{t-1} * m + 1 with a fixed m in {0, 2}: a unit dropped at t=1 stays at 1
    out = np.asarray(recurrent_only(x, training=True))
    m = out[:, 1] - 1.0
    assert set(np.unique(m)) <= {0.0, 2.0}
    np.testing.assert_array_equal(out[:, 2], out[:, 1] * m + 1.0)


# -- trainability: a frozen cell is a constant inside the layer ----------------------------
def test_frozen_cell_gets_no_gradient_and_no_update():
    inputs = lm.Input((4, 2))
    lstm = LSTM(3)
    model = lm.Model(inputs, lm.layers.Dense(1)(lstm(inputs)))
    model.compile(optimizer=lm.optimizers.SGD(0.1), loss="mse")
    x = np.random.default_rng(7).normal(size=(5, 4, 2)).astype(np.float32)
    y = np.ones((5, 1), np.float32)
    model.freeze(lstm.cell)
    assert not any(v.owner is lstm.cell for v in model.trainable_weights)
    before = lstm.get_weights()
    model.train_on_batch(x, y)
    for b, a in zip(before, lstm.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    # rule 4: reads inside the closed path are constants (zero gradient)
    values = {v.uid: v.value for v in model.weights}

    def loss(vals):
        with scope_lib.activate(scope_lib.CallScope(vals)):
            return jnp.sum(model(x) ** 2)

    grads = jax.grad(loss)(values)
    for v in lstm.weights:
        np.testing.assert_array_equal(grads[v.uid], 0.0)
    model.unfreeze(lstm.cell)
    grads = jax.grad(loss)(values)
    assert all(np.any(np.asarray(grads[v.uid]) != 0) for v in lstm.weights)


# -- configs and saving ---------------------------------------------------------------------
def test_configs_round_trip_and_saved_model_reloads(tmp_path):
    for layer in (LSTMCell(3, recurrent_activation="hard_sigmoid", unit_forget_bias=False),
                  GRUCell(2, reset_after=False, dropout=0.1, seed=5), SimpleRNNCell(2),
                  RNN(GRUCell(2), go_backwards=True)):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    lstm = LSTM(3, recurrent_activation="hard_sigmoid", unit_forget_bias=False)
    assert lstm.units == 3 and lstm.unit_forget_bias is False
    assert lstm.get_config()["recurrent_activation"] == "hard_sigmoid"

    inputs = lm.Input((4, 2))
    states = [lm.Input((3,)), lm.Input((3,))]
    outputs = LSTM(3, go_backwards=True)(inputs, initial_state=states)
    model = lm.Model([inputs] + states, lm.layers.Dense(1)(outputs))
    rng = np.random.default_rng(8)
    data = [rng.normal(size=s).astype(np.float32) for s in ((2, 4, 2), (2, 3), (2, 3))]
    path = str(tmp_path / "lstm.lamina")
    model.save(path)
    loaded = lm.models.load_model(path)
    np.testing.assert_array_equal(loaded(data), model(data))


# -- errors -----------------------------------------------------------------------------------
def test_errors_name_the_layer_and_say_what_was_expected():
    x = np.zeros((2, 5, 3), np.float32)
    with pytest.raises(InputSpecError, match=r"LSTM 'lstm': expected a 3-D input \(batch, "
                                             r"timesteps, features\), received shape \(2, 5\)"):
        LSTM(4)(np.zeros((2, 5), np.float32))
    with pytest.raises(InputSpecError, match=r"GRU 'g': expected a 3-D input"):
        GRU(4, name="g")(lm.Input((5,)))
    layer = LSTM(4, name="seq")
    with pytest.raises(InputSpecError, match=r"LSTM 'seq': expected `initial_state` to be a "
                                             r"list of 2 array\(s\) of shapes \[\(2, 4\), "
                                             r"\(2, 4\)\], received 1"):
        layer(x, initial_state=[np.zeros((2, 4))])
    with pytest.raises(InputSpecError, match=r"LSTM 'seq': expected initial_state\[1\] of "
                                             r"shape \(2, 4\) \(batch, state size\), received "
                                             r"shape \(2, 5\)"):
        layer(x, initial_state=[np.zeros((2, 4)), np.zeros((2, 5))])
    with pytest.raises(InputSpecError, match=r"expected input of shape \(batch, timesteps, 3\), "
                                             r"received shape \(2, 5, 4\)"):
        layer(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(InputSpecError, match=r"expected a mask of shape \(batch, timesteps\) = "
                                             r"\(2, 5\), received shape \(2, 4\)"):
        layer(x, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"LSTM 'st': stateful=True is not supported"):
        LSTM(4, stateful=True, name="st")
    with pytest.raises(ValueError, match=r"expected a positive integer `units`, received 0"):
        GRU(0)
    with pytest.raises(ValueError, match=r"expected 0 <= recurrent_dropout < 1, received 1.5"):
        SimpleRNN(2, recurrent_dropout=1.5)
    with pytest.raises(ValueError, match=r"use_cudnn=True is not available"):
        LSTM(2, use_cudnn=True)
    with pytest.raises(ValueError, match=r"expected a cell layer with a `state_size`"):
        RNN(lm.layers.Dense(2))
    with pytest.raises(InputSpecError, match=r"LSTMCell 'c': expected one time step of shape "
                                             r"\(batch, features\), received shape \(2, 5, 3\)"):
        LSTMCell(2, name="c")(x, [np.zeros((2, 2))] * 2)
