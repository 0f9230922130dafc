"""Bidirectional and TimeDistributed.

- the generic harness on each wrapper and its main options (merge modes, states, masks);
- forward and gradient agreement with numpy references (the LSTM recurrence of
  test_recurrent run both ways; a Dense per time step), gradients as directional derivatives
  against central finite differences;
- weight order and outputs against Keras 3 (skipped only if keras cannot be imported);
- masks through functional models, saving, and bad-input errors.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import LayerCase, check_layer
from test_recurrent import _ZeroPaddingMask, np_lstm_step, np_rnn

import lamina as lm
from lamina.core import scope as scope_lib
from lamina.errors import InputSpecError
from lamina.layers.recurrent import GRU, LSTM, SimpleRNN
from lamina.layers.wrappers import Bidirectional, TimeDistributed

FORWARD_RTOL, FORWARD_ATOL = 1e-5, 1e-5  # float32 layer vs float64 numpy reference
GRAD_RTOL, GRAD_ATOL = 2e-4, 2e-5  # float32 autodiff vs float64 central differences


def _normal(*shape):
    return lambda rng: rng.normal(size=shape).astype(np.float32)


def _ragged_mask(x):
    mask = np.ones(x.shape[:2], bool)
    mask[0, 3:] = False
    mask[1, :2] = False
    return mask


def _lstm_params(f, u):
    return 4 * (f * u + u * u + u)


HARNESS_CASES = [
    LayerCase("bi-lstm-concat", lambda: Bidirectional(LSTM(3)), _normal(3, 5, 2), (3, 6),
              trainable_params=2 * _lstm_params(2, 3), supports_masking=True),
    LayerCase("bi-gru-sum-seq-mask",
              lambda: Bidirectional(GRU(2, return_sequences=True), merge_mode="sum"),
              _normal(3, 5, 2), (3, 5, 2), trainable_params=2 * (3 * (2 * 2 + 2 * 2) + 12),
              mask=_ragged_mask, expected_mask=lambda inputs, mask: mask),
    LayerCase("bi-none-seq-mask",
              lambda: Bidirectional(SimpleRNN(3, return_sequences=True), merge_mode=None),
              _normal(3, 5, 2), [(3, 5, 3), (3, 5, 3)], trainable_params=2 * (6 + 9 + 3),
              mask=_ragged_mask, expected_mask=lambda inputs, mask: [mask, mask]),
    LayerCase("bi-lstm-state-ave",
              lambda: Bidirectional(LSTM(2, return_state=True), merge_mode="ave"),
              _normal(3, 5, 2), [(3, 2)] * 5, trainable_params=2 * _lstm_params(2, 2)),
    LayerCase("bi-backward-layer-mul",
              lambda: Bidirectional(SimpleRNN(2), merge_mode="mul",
                                    backward_layer=SimpleRNN(2, go_backwards=True,
                                                             activation="relu")),
              _normal(3, 5, 2), (3, 2), trainable_params=2 * (4 + 4 + 2)),
    LayerCase("td-dense-mask", lambda: TimeDistributed(lm.layers.Dense(3)), _normal(3, 5, 2),
              (3, 5, 3), trainable_params=9, mask=_ragged_mask,
              expected_mask=lambda inputs, mask: mask, supports_masking=True),
    LayerCase("td-lstm", lambda: TimeDistributed(LSTM(2)), _normal(3, 4, 5, 2), (3, 4, 2),
              trainable_params=_lstm_params(2, 2)),
]


@pytest.mark.parametrize("case", HARNESS_CASES, ids=str)
def test_harness(case):
    check_layer(case)


# -- numpy references -------------------------------------------------------------------------
NP_MERGE = {
    "concat": lambda a, b: np.concatenate([a, b], axis=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
    None: lambda a, b: [a, b],
}


def np_bidirectional_lstm(x, forward_weights, backward_weights, mask, merge_mode):
    """Sequences of both directions in input order, masked steps zero, merged."""
    zeros = [np.zeros((x.shape[0], forward_weights[1].shape[0]))] * 2
    forward, _ = np_rnn(np_lstm_step, x, forward_weights, zeros, mask)
    backward, _ = np_rnn(np_lstm_step, x, backward_weights, zeros, mask, go_backwards=True)
    backward = backward[:, ::-1]
    valid = mask[..., None]
    return NP_MERGE[merge_mode](np.where(valid, forward, 0.0), np.where(valid, backward, 0.0))


def _directional_checks(grads, values, np_scalar, rng, label):
    """d scalar along a random direction of each value: autodiff vs central differences."""
    eps = 1e-6
    for i, (value, grad) in enumerate(zip(values, grads, strict=True)):
        direction = rng.normal(size=value.shape)

        def shifted(d, i=i):
            return [v + d if j == i else v for j, v in enumerate(values)]

        numeric = (np_scalar(shifted(eps * direction)) - np_scalar(shifted(-eps * direction))
                   ) / (2 * eps)
        analytic = float(np.sum(np.asarray(grad, np.float64) * direction))
        np.testing.assert_allclose(analytic, numeric, rtol=GRAD_RTOL, atol=GRAD_ATOL,
                                   err_msg=f"{label}: d/d value {i}")


def _bidirectional_problem(merge_mode, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 5, 2))
    mask = _ragged_mask(x)
    layer = Bidirectional(LSTM(3, return_sequences=True), merge_mode=merge_mode)
    layer(np.float32(x))
    weights = [rng.normal(scale=0.6, size=w.shape) for w in layer.get_weights()]
    layer.set_weights([np.float32(w) for w in weights])
    expected = np_bidirectional_lstm(x, weights[:3], weights[3:], mask, merge_mode)
    got = layer(np.float32(x), mask=mask)
    for a, b in zip(*(([got], [expected]) if merge_mode else (got, expected)), strict=True):
        np.testing.assert_allclose(a, b, rtol=FORWARD_RTOL, atol=FORWARD_ATOL)
    return rng, layer, x, mask, weights, expected


def test_bidirectional_merge_modes_match_numpy():
    for merge_mode in ("sum", "mul", "ave"):
        _bidirectional_problem(merge_mode)


@pytest.mark.parametrize("merge_mode", ["concat", None], ids=str)
def test_bidirectional_matches_numpy_forward_and_gradient(merge_mode):
    rng, layer, x, mask, weights, expected = _bidirectional_problem(merge_mode)

    projections = [rng.normal(size=e.shape) for e in (expected if merge_mode is None
                                                      else [expected])]

    def np_scalar(values):
        out = np_bidirectional_lstm(values[0], values[1:4], values[4:], mask, merge_mode)
        return sum(np.sum(o * p) for o, p in zip(out if merge_mode is None else [out],
                                                 projections, strict=True))

    uids = [v.uid for v in layer.weights]

    def scalar(values):
        with scope_lib.activate(scope_lib.CallScope(dict(zip(uids, values[1:], strict=True)))):
            out = layer(values[0], mask=mask)
        return sum(jnp.sum(o * p) for o, p in zip(out if merge_mode is None else [out],
                                                  projections, strict=True))

    values = [x] + weights
    grads = jax.grad(scalar)([np.float32(v) for v in values])
    _directional_checks(grads, values, np_scalar, rng, f"Bidirectional {merge_mode}")


def test_time_distributed_matches_numpy_forward_and_gradient():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3, 5))  # (batch, time, 3, 5): Dense on the last axis
    layer = TimeDistributed(lm.layers.Dense(2, activation="tanh"))
    layer(np.float32(x))
    kernel, bias = rng.normal(size=(5, 2)), rng.normal(size=2)
    layer.set_weights([np.float32(kernel), np.float32(bias)])

    def np_forward(x_, kernel_, bias_):
        out = np.empty(x_.shape[:3] + (2,))
        for b in range(x_.shape[0]):
            for t in range(x_.shape[1]):
                out[b, t] = np.tanh(x_[b, t] @ kernel_ + bias_)
        return out

    expected = np_forward(x, kernel, bias)
    np.testing.assert_allclose(layer(np.float32(x)), expected, rtol=FORWARD_RTOL,
                               atol=FORWARD_ATOL)
    projection = rng.normal(size=expected.shape)
    uids = [v.uid for v in layer.weights]

    def scalar(values):
        with scope_lib.activate(scope_lib.CallScope(dict(zip(uids, values[1:], strict=True)))):
            return jnp.sum(layer(values[0]) * projection)

    values = [x, kernel, bias]
    grads = jax.grad(scalar)([np.float32(v) for v in values])
    _directional_checks(grads, values, lambda v: np.sum(np_forward(*v) * projection), rng,
                        "TimeDistributed(Dense)")


def test_time_distributed_passes_the_folded_mask_to_the_inner_layer():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4, 2))  # (batch, outer time, inner time, features)
    mask = rng.random((2, 3, 4)) > 0.3
    layer = TimeDistributed(LSTM(3))
    layer(np.float32(x))
    weights = [rng.normal(scale=0.6, size=w.shape) for w in layer.get_weights()]
    layer.set_weights([np.float32(w) for w in weights])
    got = np.asarray(layer(np.float32(x), mask=mask))
    zeros = [np.zeros((2, 3))] * 2
    for t in range(3):  # the LSTM on each outer step with that step's inner mask
        seq, _ = np_rnn(np_lstm_step, x[:, t], weights, zeros, mask[:, t])
        np.testing.assert_allclose(got[:, t], seq[:, -1], rtol=FORWARD_RTOL, atol=FORWARD_ATOL)
    assert layer.compute_mask(x, mask) is mask


# -- Keras 3 itself -------------------------------------------------------------------------
def _keras():
    os.environ["KERAS_BACKEND"] = "jax"  # before keras is first imported
    return pytest.importorskip("keras")


@pytest.mark.parametrize("merge_mode", ["concat", None], ids=str)
def test_bidirectional_weight_order_and_masked_outputs_match_keras(merge_mode):
    keras = _keras()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    mask = _ragged_mask(x)
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True, name="rnn"),
                                        merge_mode=merge_mode)
    ours = Bidirectional(LSTM(3, return_sequences=True, name="rnn"), merge_mode=merge_mode)
    expected = theirs(x, mask=mask)
    ours(x)
    keras_weights = [np.asarray(v.value) for v in theirs.weights]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in keras_weights]
    assert [v.name for v in ours.weights] == [v.name for v in theirs.weights]
    assert [v.owner for v in ours.weights] == ([ours.forward_layer.cell] * 3
                                               + [ours.backward_layer.cell] * 3)
    assert ours.forward_layer.name == theirs.forward_layer.name == "forward_rnn"
    assert ours.backward_layer.name == theirs.backward_layer.name == "backward_rnn"
    ours.set_weights(keras_weights)
    got = ours(x, mask=mask)
    for a, b in zip(*(([got], [expected]) if merge_mode else (got, expected)), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-5)


def test_bidirectional_gru_states_and_initial_state_match_keras():
    keras = _keras()
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    states = [rng.normal(size=(2, 2)).astype(np.float32) for _ in range(2)]
    theirs = keras.layers.Bidirectional(keras.layers.GRU(2, return_state=True), merge_mode="sum")
    ours = Bidirectional(GRU(2, return_state=True), merge_mode="sum")
    expected = theirs(x, initial_state=states)
    ours(x)
    ours.set_weights([np.asarray(v.value) for v in theirs.weights])
    got = ours(x, initial_state=states)
    assert len(got) == len(expected) == 3
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-5)


def test_time_distributed_matches_keras():
    keras = _keras()
    x = np.random.default_rng(5).normal(size=(2, 3, 4)).astype(np.float32)
    theirs = keras.layers.TimeDistributed(keras.layers.Dense(3))
    ours = TimeDistributed(lm.layers.Dense(3))
    expected = theirs(x)
    ours(x)
    ours.set_weights([np.asarray(v.value) for v in theirs.weights])
    np.testing.assert_allclose(ours(x), np.asarray(expected), rtol=1e-6, atol=1e-6)


# -- functional models, masks and saving -----------------------------------------------------
def test_masks_flow_through_both_wrappers_in_a_functional_model(tmp_path):
    rng = np.random.default_rng(6)
    inputs = lm.Input((None, 3))
    hidden = TimeDistributed(lm.layers.Dense(4, activation="tanh"))(_ZeroPaddingMask()(inputs))
    outputs = Bidirectional(GRU(2))(hidden)
    model = lm.Model(inputs, outputs)
    short = rng.normal(size=(2, 3, 3)).astype(np.float32)
    pad = np.zeros((2, 2, 3), np.float32)
    expected = np.asarray(model(short))
    for padded in (np.concatenate([short, pad], 1), np.concatenate([pad, short], 1)):
        np.testing.assert_allclose(model(padded), expected, rtol=1e-6, atol=1e-6)

    path = str(tmp_path / "wrappers.lamina")
    model.save(path)
    loaded = lm.models.load_model(path)
    padded = np.concatenate([short, pad], 1)
    np.testing.assert_array_equal(loaded(padded), model(padded))


# -- errors -----------------------------------------------------------------------------------
def test_errors_name_the_wrapper_and_say_what_was_expected():
    with pytest.raises(ValueError, match=r"Bidirectional 'b': expected merge_mode in "
                                         r"\['concat', 'sum', 'mul', 'ave', None\], "
                                         r"received 'max'"):
        Bidirectional(LSTM(2), merge_mode="max", name="b")
    with pytest.raises(ValueError, match=r"expected the forward and backward layers to have "
                                         r"different `go_backwards`, received False for both"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match=r"expected the forward and backward layers to have "
                                         r"the same `return_sequences`, received True "
                                         r"\(forward\) and False \(backward\)"):
        Bidirectional(LSTM(2, return_sequences=True), backward_layer=LSTM(2, go_backwards=True))
    with pytest.raises(ValueError, match=r"expected `layer` to be a Layer, received 3"):
        Bidirectional(3)
    x = np.zeros((2, 4, 3), np.float32)
    with pytest.raises(InputSpecError, match=r"Bidirectional 'bi': expected `initial_state` "
                                             r"to list the forward states then the backward "
                                             r"states \(an even number\), received 3"):
        Bidirectional(LSTM(2), name="bi")(x, initial_state=[np.zeros((2, 2))] * 3)
    with pytest.raises(InputSpecError, match=r"LSTM 'forward_rnn': expected `initial_state` "
                                             r"to be a list of 2"):
        Bidirectional(LSTM(2, name="rnn"))(x, initial_state=[np.zeros((2, 2))] * 2)
    with pytest.raises(InputSpecError, match=r"LSTM 'forward_rnn': expected a 3-D input"):
        Bidirectional(LSTM(2, name="rnn"))(np.zeros((2, 3), np.float32))
    with pytest.raises(InputSpecError, match=r"TimeDistributed 'td': expected an input of at "
                                             r"least 3 dimensions \(batch, timesteps, \.\.\.\), "
                                             r"received shape \(2, 3\)"):
        TimeDistributed(lm.layers.Dense(2), name="td")(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"TimeDistributed 't': expected a Layer to wrap, "
                                         r"received 'dense'"):
        TimeDistributed("dense", name="t")
    with pytest.raises(InputSpecError, match=r"expected a mask of shape \(batch, timesteps, "
                                             r"\.\.\.\) = \(2, 4, \.\.\.\), received shape "
                                             r"\(2, 3\)"):
        TimeDistributed(LSTM(2))(np.zeros((2, 4, 5, 3), np.float32), mask=np.ones((2, 3), bool))
