"""Cases for Keras's numpy ops: name -> list of (args, kwargs), run by test_against_keras.py.

Float and int inputs wherever Keras's dtype rules matter (int to float32 for the
transcendental functions and means, bool handling, mixed int/float promotion).
"""
import numpy as np

from tests.ops.inputs import (
    I8,
    IV,
    NAN,
    SPD,
    U8,
    B,
    C,
    F,
    G,
    H,
    I,
    J,
    M,
    P,
    S,
    U,
    V,
    c,
)

UNARY_ANY = "abs absolute negative sign square copy ceil floor trunc fabs round".split()
UNARY_FLOAT = ("cos cosh sin sinh tan tanh arctan arcsinh exp exp2 expm1 cbrt deg2rad rad2deg "
               "sinc i0 reciprocal").split()
UNARY_POSITIVE = "log log10 log1p log2 sqrt".split()
UNARY_UNIT = "arccos arcsin arctanh".split()
PREDICATES = "isfinite isinf isnan isneginf isposinf isreal signbit logical_not".split()
BINARY = ("add subtract multiply divide true_divide maximum minimum fmax fmin power equal "
          "not_equal greater greater_equal less less_equal arctan2 hypot logaddexp logaddexp2 "
          "heaviside nextafter divide_no_nan mod fmod floor_divide").split()
BITWISE = ("bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift left_shift "
           "right_shift gcd lcm").split()
LOGICAL = "logical_and logical_or logical_xor".split()
REDUCE = "sum mean prod max min amax amin all any std var ptp argmax argmin median".split()
NAN_REDUCE = ("nansum nanmean nanprod nanmax nanmin nanstd nanvar nanargmax nanargmin "
              "nanmedian").split()

CASES = {}
for name in UNARY_ANY:
    CASES[name] = [c(F), c(I), c(H)]
for name in UNARY_FLOAT:
    CASES[name] = [c(U), c(I), c(H), c(I8)]
for name in UNARY_POSITIVE:
    CASES[name] = [c(P), c(J), c(H)]
for name in UNARY_UNIT:
    CASES[name] = [c(U), c(H)]
CASES["arccosh"] = [c(P + 1), c(J)]
for name in PREDICATES:
    CASES[name] = [c(NAN), c(I), c(B)]
for name in BINARY:
    CASES[name] = [c(F, G), c(J, J), c(I, F), c(F, 2.0), c(I, 2), c(H, F)]
CASES["power"] = [c(P, G), c(J, J), c(J, F), c(F, 2), c(I, 2.0)]
for name in "mod fmod floor_divide divide_no_nan".split():
    CASES[name] = [c(F, G), c(I, J), c(F, 2.0), c(F, np.zeros_like(F))]
CASES["divide_no_nan"] = [c(F, G), c(I, J), c(F, np.zeros_like(F)), c(I, I)]
for name in BITWISE:
    CASES[name] = [c(J, J), c(I8, I8), c(U8, U8)]
for name in LOGICAL:
    CASES[name] = [c(B, ~B), c(I, F)]
CASES["bitwise_invert"] = CASES["bitwise_not"] = [c(I), c(U8), c(B)]
for name in REDUCE:
    CASES[name] = [c(F), c(I), c(F, axis=1), c(F, axis=0, keepdims=True), c(B)]
for name in NAN_REDUCE:
    CASES[name] = [c(NAN), c(NAN, axis=1), c(I, axis=0, keepdims=True)]
CASES["ptp"] = CASES["ptp"][:-1]  # bool: jax (and so Keras) refuses the subtraction
CASES["max"] += [c(F, axis=1, initial=0.5)]
CASES["min"] += [c(I, initial=0)]
CASES["prod"] += [c(I, dtype="float32")]
CASES["count_nonzero"] = [c(I), c(I, axis=1), c(B)]
CASES["average"] = [c(F), c(F, axis=1, weights=np.array([1.0, 2.0, 3.0], "float32")), c(I)]
CASES["clip"] = [c(F, -0.5, 0.5), c(I, -1, 2), c(B, 0, 1)]
CASES["nan_to_num"] = [c(NAN), c(NAN, nan=-1.0), c(I)]
CASES["angle"] = [c(C), c(F), c(I)]
CASES["real"] = CASES["imag"] = CASES["conj"] = CASES["conjugate"] = [c(C), c(F)]
CASES["round"] += [c(F, decimals=1), c(I, decimals=-1)]
for name in "percentile quantile nanpercentile nanquantile".split():
    q = 40.0 if "percentile" in name else 0.4
    CASES[name] = [c(F, q), c(F, np.array([q, q / 2], "float32"), axis=1), c(I, q, keepdims=True),
                   c(F, q, method="nearest")]
CASES["isclose"] = CASES["allclose"] = [c(F, F + 1e-7), c(F, G), c(I, J),
                                        c(NAN, NAN, equal_nan=True)]
CASES["isin"] = [c(I, np.array([0, 1], "int32")), c(I, np.array([0, 1]), invert=True)]
CASES["ldexp"] = [c(F, J), c(J, J)]

# ordering, sorting, counting
CASES["sort"] = CASES["argsort"] = [c(F), c(F, axis=0), c(I)]
CASES["argpartition"] = [c(V, 2)]
CASES["cumsum"] = CASES["cumprod"] = [c(F), c(F, axis=1), c(I, axis=0), c(B, axis=1),
                                       c(I, axis=1, dtype="float32")]
CASES["nancumsum"] = CASES["nancumprod"] = [c(NAN, axis=1), c(I)]
CASES["diff"] = [c(F), c(I, n=2, axis=-1), c(F, axis=0)]
CASES["searchsorted"] = [c(np.sort(V), F), c(np.sort(V), V, side="right"), c(np.arange(4), I)]
CASES["digitize"] = [c(F, np.array([-1.0, 0.0, 1.0], "float32")), c(I, np.array([0, 2]))]
CASES["histogram"] = [c(V), c(V, bins=3, range=(-1.0, 1.0))]
CASES["bincount"] = [c(IV), c(IV, minlength=6), c(IV, weights=np.arange(6, dtype="float32"))]
CASES["unique"] = [c(IV, size=6, fill_value=-1),
                   c(IV, return_counts=True, return_inverse=True, return_index=True, size=6,
                     fill_value=0)]
CASES["nonzero"] = [c(I), c(B)]
CASES["trapezoid"] = [c(F), c(F, dx=0.5, axis=0), c(F, x=np.array([0.0, 1.0, 3.0], "float32")),
                      c(I)]

# shapes
CASES["append"] = [c(F, G), c(F, I, axis=0), c(I, V)]
CASES["array_split"] = [c(V, 2), c(M, 3, axis=1)]
CASES["split"] = [c(M, 2, axis=1), c(V, [1, 3])]
CASES["hsplit"] = [c(M, 2)]
CASES["vsplit"] = [c(M, [1])]
CASES["dsplit"] = [c(M.reshape(3, 2, 2), 2)]
CASES["broadcast_to"] = [c(V, (2, 5)), c(I, (4, 2, 3))]
CASES["concatenate"] = [c([F, G]), c([F, I], axis=1), c((I, J))]
CASES["stack"] = [c([F, G]), c([I, J], axis=1), c([F, I], axis=-1)]
CASES["hstack"] = CASES["vstack"] = CASES["dstack"] = [c([F, G]), c([F, I])]
CASES["expand_dims"] = [c(F, 0), c(F, -1), c(F, (0, 2))]
CASES["flip"] = [c(F), c(F, axis=1), c(F, axis=(0, 1))]
CASES["fliplr"] = CASES["flipud"] = [c(F)]
CASES["moveaxis"] = [c(F, 0, 1), c(M.reshape(3, 2, 2), (0, 1), (2, 0))]
CASES["ravel"] = [c(F), c(I)]
CASES["repeat"] = [c(F, 2), c(F, 2, axis=1), c(F, np.array([1, 2]), axis=0)]
CASES["reshape"] = [c(F, (3, 2)), c(F, (-1,)), c(F, -1)]
CASES["roll"] = [c(F, 1), c(F, -1, axis=1), c(F, (1, 2), axis=(0, 1))]
CASES["rot90"] = [c(M), c(M, k=2), c(M.reshape(3, 2, 2), k=-1, axes=(1, 2))]
CASES["squeeze"] = [c(V[None, :, None]), c(V[None, :, None], axis=0),
                    c(V[None, :, None], axis=(0, 2))]
CASES["swapaxes"] = [c(F, 0, 1)]
CASES["tile"] = [c(F, 2), c(F, (2, 1)), c(V, (2, 1, 2))]
CASES["transpose"] = [c(F), c(M.reshape(3, 2, 2), axes=(1, 0, 2))]
CASES["pad"] = [c(F, 1), c(F, ((1, 0), (2, 1))), c(F, 1, mode="reflect"),
                c(F, ((0, 1), (1, 1)), mode="symmetric"), c(I, 1, constant_values=7),
                c(F, 2, mode="edge")]

# indexing and selection
CASES["get_item"] = [c(F, 1), c(F, (slice(None), 0)), c(F, (0, slice(1, 3))),
                     c(M, np.array([0, 2]))]
CASES["take"] = [c(F, np.array([0, 2])), c(F, np.array([0, 2]), axis=1), c(F, 4),
                 c(F, np.array([[0, 1]]), axis=0)]
CASES["take_along_axis"] = [c(F, np.argsort(F, axis=1), axis=1),
                            c(F, np.array([[0, 1, 0]]), axis=0), c(V, np.array([4, 0]))]
CASES["where"] = [c(B, F, G), c(B, I, F), c(B, 1.0, 0.0), c(B), c(I)]
CASES["select"] = [c([B, ~B], [F, G]), c([B], [I], default=-1)]
CASES["unravel_index"] = [c(np.array([1, 5, 7]), (2, 4)), c(3, (2, 2))]
CASES["ndim"] = CASES["size"] = [c(F), c(V)]
CASES["diagonal"] = [c(S), c(M, offset=1), c(M.reshape(3, 2, 2), axis1=1, axis2=2)]
CASES["diag"] = [c(S), c(V), c(S, k=1), c(V, k=-1)]
CASES["diagflat"] = [c(V), c(F, k=1)]
CASES["tril"] = CASES["triu"] = [c(M), c(M, k=1), c(M, k=-1)]
CASES["trace"] = [c(S), c(M, offset=1), c(I)]
CASES["view"] = [c(F, "int32"), c(I, "float32"), c(I, "uint8"), c(F)]

# creation
CASES["arange"] = [c(5), c(1, 7, 2), c(0.5, 3.0), c(2, dtype="float32"), c(1.0, 2.5, 0.5),
                   c(0, 5, dtype="int8")]
CASES["array"] = [c([1, 2]), c([1.0, 2.0]), c(F, dtype="float16"), c(I)]
CASES["ones"] = CASES["zeros"] = [c((2, 3)), c(3, dtype="int32"), c([2], dtype="bool")]
CASES["empty"] = []  # its values are unspecified: checked for shape and dtype in test_core_ops
CASES["ones_like"] = CASES["zeros_like"] = [c(F), c(I), c(F, dtype="int32")]
CASES["empty_like"] = []
CASES["full"] = [c((2, 2), 3.0), c((2,), 4), c(3, 1, dtype="float16")]
CASES["full_like"] = [c(F, 2), c(I, 2.5), c(F, 1, dtype="int32")]
CASES["eye"] = [c(3), c(2, 3), c(3, k=1), c(3, dtype="int32")]
CASES["identity"] = [c(3), c(2, dtype="int32")]
CASES["tri"] = [c(3), c(2, 4, k=1), c(3, dtype="int32")]
CASES["linspace"] = [c(0, 1, 5), c(0.0, 2.0, num=4, endpoint=False), c(0, 10, 6, dtype="int32"),
                     c(np.zeros(2, "float32"), np.ones(2, "float32"), 3, axis=1),
                     c(0, 1, 3, retstep=True)]
CASES["logspace"] = [c(0, 2, 3), c(0.0, 1.0, num=4, base=2, endpoint=False)]
CASES["geomspace"] = [c(1, 100, 3), c(1.0, 8.0, num=4, endpoint=False)]
CASES["meshgrid"] = [c(V, np.arange(3)), c(V, np.arange(3.0), indexing="ij")]
for name in "bartlett blackman hamming hanning".split():
    CASES[name] = [c(5), c(1)]
CASES["kaiser"] = [c(5, 2.0), c(4, 0.5)]
CASES["vander"] = [c(V), c(V, N=3, increasing=True), c(np.array([1, 2, 3]))]

# products
CASES["dot"] = [c(F, M), c(V, V), c(I, J.T), c(F, 2.0)]
CASES["matmul"] = [c(F, M), c(I, J.T), c(F, I.T), c(V, V), c(H, M.astype("float16"))]
CASES["inner"] = [c(V, V), c(F, G), c(I, J)]
CASES["outer"] = [c(V, V), c(I, F)]
CASES["vdot"] = [c(V, V), c(I, J), c(C, C)]
CASES["kron"] = [c(F, G), c(I, J)]
CASES["cross"] = [c(F, G), c(I, J), c(F.T, G.T, axisa=0, axisb=0), c(F, G, axis=1)]
CASES["tensordot"] = [c(F, M, axes=1), c(F, G, axes=([0, 1], [0, 1])), c(I, J, axes=2)]
CASES["einsum"] = [c("ij,jk->ik", F, M), c("ij->", I), c("i,i", V, V), c("ij,ij->i", I, F)]
CASES["correlate"] = [c(V, V[:3]), c(V, V[:3], mode="same"), c(V, V[:2], mode="full"),
                      c(np.arange(5), np.arange(2))]
CASES["corrcoef"] = [c(M), c(I)]
CASES["slogdet"] = [c(S), c(SPD)]
