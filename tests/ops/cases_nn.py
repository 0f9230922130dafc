"""Cases for Keras's nn ops: name -> list of (args, kwargs), run by test_against_keras.py."""
import numpy as np

from tests.ops.inputs import IV, X3, X4, F, G, H, I, V, c

_rng = np.random.default_rng(1)
K2 = _rng.normal(size=(3, 3, 3, 4)).astype("float32")  # conv2d kernel (window, in, out)
K2G = _rng.normal(size=(2, 2, 1, 6)).astype("float32")  # grouped: 3 groups
K1 = _rng.normal(size=(3, 3, 2)).astype("float32")  # conv1d kernel
DW = _rng.normal(size=(3, 3, 3, 2)).astype("float32")  # depthwise (window, in, multiplier)
PW = _rng.normal(size=(1, 1, 6, 4)).astype("float32")  # pointwise
KT = _rng.normal(size=(3, 3, 4, 3)).astype("float32")  # transpose (window, out, in)
X4CF = np.ascontiguousarray(X4.transpose(0, 3, 1, 2))
PROBS = np.abs(F) / np.abs(F).sum(-1, keepdims=True)
ONEHOT = np.eye(3, dtype="float32")[[0, 2]]
Q = _rng.normal(size=(2, 4, 2, 8)).astype("float32")  # (batch, time, heads, depth)
KV = _rng.normal(size=(2, 5, 2, 8)).astype("float32")
LOGITS = _rng.normal(size=(2, 6, 4)).astype("float32")
LABELS = np.array([[1, 2, 0], [3, 3, 1]], "int32")
NCHW = _rng.normal(size=(2, 3, 5, 6)).astype("float32")

ACTIVATIONS = ("relu relu6 sigmoid sparse_sigmoid softplus softsign sparse_plus silu swish "
               "log_sigmoid hard_sigmoid hard_silu hard_swish selu hard_tanh tanh_shrink "
               "elu celu gelu leaky_relu hard_shrink soft_shrink squareplus").split()

CASES = {name: [c(F * 3), c(H)] for name in ACTIVATIONS}
CASES["relu"] += [c(I)]
CASES["gelu"] += [c(F, approximate=False)]
CASES["elu"] += [c(F, alpha=0.5)]
CASES["celu"] += [c(F, alpha=2.0)]
CASES["leaky_relu"] += [c(F, negative_slope=0.1)]
CASES["hard_shrink"] += [c(F, threshold=1.0)]
CASES["soft_shrink"] += [c(F, threshold=0.2)]
CASES["squareplus"] += [c(F, b=1)]
CASES["threshold"] = [c(F, 0.1, -5.0), c(I, 0, 7)]
CASES["glu"] = [c(X3[..., :2]), c(F[:, :2], axis=1), c(X4[:, :4], axis=1)]
CASES["softmax"] = CASES["log_softmax"] = [c(F), c(F, axis=0), c(X4, axis=(1, 2)), c(H)]
CASES["sparsemax"] = [c(F * 3), c(F, axis=0)]

CASES["conv"] = [c(X4, K2), c(X4, K2, strides=2, padding="same"), c(X4, K2, dilation_rate=2),
                 c(X4, K2G), c(X3, K1, padding="same"), c(X4CF, K2, data_format="channels_first"),
                 c(X3, K1, strides=(2,), dilation_rate=(1,))]
CASES["depthwise_conv"] = [c(X4, DW), c(X4, DW, strides=2, padding="same"),
                           c(X4CF, DW, data_format="channels_first")]
CASES["separable_conv"] = [c(X4, DW, PW), c(X4, DW, PW, padding="same", strides=(1, 2))]
CASES["conv_transpose"] = [c(X4[..., :3], KT), c(X4, KT, strides=2, padding="same"),
                           c(X4, KT, strides=2, output_padding=1),
                           c(X4, KT, strides=(2, 1), padding="same", dilation_rate=1),
                           c(X4CF, KT, strides=2, data_format="channels_first")]
# strides=None is left out: Keras 3.15.1's jax backend fails on it (test_core_ops.py checks
# lamina's default, strides = pool_size, against Keras given strides explicitly)
CASES["max_pool"] = CASES["average_pool"] = [
    c(X4, 2, strides=2), c(X4, (3, 3), strides=2, padding="same"), c(X3, 2, strides=1),
    c(X4CF, 2, strides=2, data_format="channels_first")]
CASES["adaptive_average_pool"] = CASES["adaptive_max_pool"] = [
    c(X4, 2), c(X4, (3, 2)), c(X3, 4), c(X4CF, (2, 3), data_format="channels_first")]
CASES["unfold"] = [c(NCHW, 2), c(NCHW, (2, 3), dilation=1, padding=1, stride=2)]
CASES["fold"] = [c(np.ones((2, 12, 20), "float32"), (5, 6), 2),
                 c(_rng.normal(size=(2, 18, 9)).astype("float32"), (5, 6), (2, 3), padding=1,
                   stride=2)]
CASES["depth_to_space"] = [c(np.arange(2 * 2 * 3 * 8, dtype="float32").reshape(2, 2, 3, 8), 2),
                           c(NCHW[:, :1].repeat(4, 1), 2, data_format="channels_first")]
CASES["space_to_depth"] = [c(X4[:, :4, :4], 2), c(NCHW[:, :, :4, :4], 2,
                                                    data_format="channels_first")]

CASES["moments"] = [c(F, 0), c(X4, (0, 1, 2)), c(F, [1], keepdims=True), c(H, 0), c(I, 1)]
CASES["batch_normalization"] = [
    c(X4, V[:3], np.abs(V[1:4]), -1),
    c(X4, V[:3], np.abs(V[1:4]), 3, offset=V[2:5], scale=V[:3], epsilon=0.1),
    c(X4CF, V[:3], np.abs(V[1:4]), 1)]
CASES["layer_normalization"] = [c(F), c(X4, V[:3], V[1:4]), c(X4, axis=(1, 2)),
                                c(X4, np.ones((5, 5), "float32"), axis=(1, 2), epsilon=0.1),
                                c(H, epsilon=1e-3)]
CASES["rms_normalization"] = [c(F), c(X4, V[:3]), c(X4, axis=(1, 2)), c(H, epsilon=1e-3)]
CASES["normalize"] = [c(F), c(F, axis=0), c(F, order=1), c(X4, axis=1, order=3)]

CASES["binary_crossentropy"] = [c((F > 0).astype("float32"), np.abs(np.tanh(F))),
                                c((F > 0).astype("float32"), F, from_logits=True)]
CASES["categorical_crossentropy"] = [c(ONEHOT, PROBS), c(ONEHOT, F, from_logits=True),
                                     c(ONEHOT.T, F.T, axis=0)]
CASES["sparse_categorical_crossentropy"] = [c(np.array([0, 2]), PROBS),
                                            c(np.array([[1], [0]]), F, from_logits=True)]
CASES["psnr"] = [c(X4, X4 + 0.1, 1.0), c(F, F * 0.9, 2.0)]
CASES["one_hot"] = [c(IV, 4), c(IV, 5, axis=0), c(IV, 4, dtype="int32"), c(np.array([-1, 7]), 4)]
CASES["multi_hot"] = [c(IV, 4), c(IV.reshape(2, 3), 5), c(IV.reshape(2, 3), 4, dtype="int32")]
CASES["polar"] = [c(np.abs(F), G), c(np.abs(V), V)]

CASES["dot_product_attention"] = [
    c(Q, KV, KV), c(Q, KV, KV, scale=0.5), c(Q, Q, Q, is_causal=True),
    c(Q, KV, KV, mask=np.tril(np.ones((4, 5), bool))[None, None]),
    c(Q, KV, KV, bias=_rng.normal(size=(1, 2, 4, 5)).astype("float32")),
    c(Q, KV[:, :, :1], KV[:, :, :1])]
CASES["ctc_loss"] = [c(LABELS, LOGITS, np.array([3, 2]), np.array([6, 5])),
                     c(LABELS, LOGITS, np.array([2, 3]), np.array([6, 6]), mask_index=3)]
CASES["ctc_decode"] = [c(LOGITS, np.array([6, 4])), c(LOGITS, np.array([6, 6]),
                                                     merge_repeated=False, mask_index=1)]
