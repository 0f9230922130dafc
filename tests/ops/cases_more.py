"""Cases for Keras's math, linalg, core and image ops: name -> list of (args, kwargs), run by
test_against_keras.py (image names are looked up in `ops.image`)."""
import numpy as np

from tests.ops.inputs import IMG, SPD, X4, B, C, F, G, H, I, M, P, S, U, V, c

_rng = np.random.default_rng(2)
SIGNAL = _rng.normal(size=(2, 32)).astype("float32")
SEG = np.array([0, 0, 1, 2, 2, 2], "int32")
DATA = _rng.normal(size=(6, 3)).astype("float32")
LOWER = np.tril(S) + 3 * np.eye(3, dtype="float32")
CHOL = np.linalg.cholesky(SPD).astype("float32")
BATCH_SPD = np.stack([SPD, SPD + np.eye(3, dtype="float32")])
TRANSFORM = np.array([1.1, 0.2, -0.5, -0.1, 0.9, 0.7, 0.0, 0.0], "float32")
CORNERS = np.array([[0, 0], [5, 0], [0, 5], [5, 5]], "float32")
MOVED = np.array([[0.5, 0.2], [5.2, 0.4], [0.1, 4.6], [4.8, 5.3]], "float32")
IMG_CF = np.ascontiguousarray(IMG.transpose(0, 3, 1, 2))

MATH = {
    "segment_sum": [c(DATA, SEG, 3), c(DATA, SEG, num_segments=4, sorted=True)],
    "segment_max": [c(DATA, SEG, 3)], "segment_min": [c(DATA, SEG, 3)],
    "segment_prod": [c(DATA, SEG, 3)],
    "top_k": [c(F, 2), c(V, 3, sorted=True), c(I, 1)],
    "in_top_k": [c(np.array([0, 2]), F, 1), c(np.array([1, 0]), F, 2)],
    "logsumexp": [c(F), c(F, axis=1), c(F, axis=0, keepdims=True)],
    "logdet": [c(SPD), c(BATCH_SPD)],
    "cdist": [c(F, G), c(M[None], M[None, :2])],
    "erf": [c(U), c(H)], "erfc": [c(U), c(H)], "erfinv": [c(U)], "rsqrt": [c(P), c(H)],
    "view_as_real": [c(C)], "view_as_complex": [c(np.stack([F, G], -1))],
    "fft": [c((F, G))], "fft2": [c((F, G))], "ifft2": [c((F, G))],
    "rfft": [c(SIGNAL), c(SIGNAL, fft_length=16)],
    "irfft": [c((F, G)), c((F, G), fft_length=6)],
    "extract_sequences": [c(SIGNAL, 8, 4), c(V, 2, 1)],
    "stft": [c(SIGNAL, 8, 4, 8), c(SIGNAL, 6, 2, 8, window="hamming", center=False),
             c(SIGNAL, 8, 4, 8, window=None)],
    "istft": [c((np.ones((2, 9, 5), "float32"), np.zeros((2, 9, 5), "float32")), 8, 4, 8),
              c((_rng.normal(size=(9, 5)).astype("float32"),
                 _rng.normal(size=(9, 5)).astype("float32")), 8, 2, 8, length=20)],
}
LINALG = {
    "cholesky": [c(SPD), c(SPD, upper=True), c(BATCH_SPD)],
    "cholesky_inverse": [c(CHOL), c(CHOL.T, upper=True)],
    "det": [c(S), c(BATCH_SPD)], "inv": [c(SPD), c(BATCH_SPD)],
    "eigh": [c(SPD)], "lu_factor": [c(S), c(BATCH_SPD)],
    "norm": [c(F), c(V, ord=1), c(F, axis=1), c(S, ord="fro"), c(I), c(F, axis=0, keepdims=True),
             c(S, ord=2)],
    "qr": [c(M), c(M.T, mode="complete")],
    "solve": [c(SPD, S), c(SPD, V[:3])],
    "solve_triangular": [c(LOWER, S, lower=True), c(LOWER.T, S)],
    "svd": [c(SPD), c(SPD, compute_uv=False), c(M, full_matrices=False)],
    "lstsq": [c(M.T, V[:4])], "matrix_rank": [c(S), c(np.ones((3, 3), "float32"))],
    "pinv": [c(M), c(S, rcond=1e-3)],
}
CORE = {
    "convert_to_tensor": [c(F), c([1, 2]), c([1.0, 2.0]), c(3), c(F, dtype="float16"), c(True),
                          c(I, "float32")],
    "convert_to_numpy": [c(F), c(I)],
    "cast": [c(F, "int32"), c(I, "float16"), c(F, "bool"), c(B, "float32")],
    "saturate_cast": [c(F * 300, "uint8"), c(F * 1e5, "int16"), c(I * 100, "int8"),
                      c(F * 1e5, "float16")],
    "shape": [c(F), c(V), c(X4)], "dtype": [c(F), c(I), c(B), c(H)],
    "is_tensor": [c(F), c(3)],
    "scatter": [c(np.array([[0, 1], [1, 2]]), np.array([1.0, 2.0], "float32"), (2, 3)),
                c(np.array([[0], [0]]), np.array([[1, 2], [3, 4]], "int32"), (3, 2))],
    "scatter_update": [c(F, np.array([[0, 1], [1, 2]]), np.array([5.0, 6.0], "float32")),
                       c(F, np.array([[0, 1], [0, 1]]), np.array([5.0, 6.0], "float32"),
                         reduction="add"),
                       c(F, np.array([[1, 0]]), np.array([9.0], "float32"), reduction="max")],
    "slice": [c(M, (1, 1), (2, 2)), c(M, (0, 2), (-1, 2))],
    "slice_update": [c(M, (1, 1), np.zeros((2, 2), "float32")),
                     c(I, (0, 1), np.ones((1, 2), "int32"))],
    "unstack": [c(F), c(F, axis=1), c(X4, num=5, axis=1)],
    "stop_gradient": [c(F), c(I)],
    "rearrange": [c(X4, "b h w c -> b (h w) c"), c(X4, "b h w c -> c b w h"),
                  c(X4.reshape(2, 25, 3), "b (h w) c -> b h w c", h=5),
                  c(M, "(a b) c -> a (c b)", a=3)],
}
IMAGE = {
    "rgb_to_grayscale": [c(IMG), c(IMG[0]), c(IMG_CF, data_format="channels_first"),
                         c((IMG * 255).astype("uint8"))],
    "rgb_to_hsv": [c(IMG), c(IMG_CF, data_format="channels_first")],
    "hsv_to_rgb": [c(IMG), c(IMG[0])],
    "resize": [c(IMG, (4, 8)), c(IMG, (9, 3), interpolation="nearest"),
               c(IMG, (4, 8), interpolation="bicubic", antialias=True),
               c(IMG, (4, 8), crop_to_aspect_ratio=True), c(IMG, (4, 8), pad_to_aspect_ratio=True),
               c(IMG, (8, 4), pad_to_aspect_ratio=True, fill_value=0.5),
               c(IMG_CF, (3, 4), data_format="channels_first"), c(IMG[0], (3, 3))],
    "affine_transform": [c(IMG[:1], TRANSFORM), c(IMG, np.stack([TRANSFORM, TRANSFORM * 0.9]),
                                               interpolation="nearest", fill_mode="reflect"),
                         c(IMG[0], TRANSFORM, fill_mode="wrap", fill_value=1.0),
                         c(IMG_CF[:1], TRANSFORM, data_format="channels_first")],
    "perspective_transform": [c(IMG[:1], CORNERS, MOVED), c(IMG[0], CORNERS, MOVED,
                                                        interpolation="nearest", fill_value=1)],
    "map_coordinates": [c(S, np.array([[0.5, 1.2], [1.5, 0.1]], "float32"), 1),
                        c(S, np.array([[0.5, 3.2], [-1.5, 0.1]], "float32"), 0,
                          fill_mode="nearest"),
                        c(IMG[0, :, :, 0], np.stack(np.meshgrid(np.arange(6.0), np.arange(6.0)))
                          + 0.3, 1, fill_mode="mirror")],
    "scale_and_translate": [c(IMG, (2, 3, 4, 3), np.array([0.5, 0.7], "float32"),
                              np.array([0.0, 1.0], "float32"), (1, 2), "bilinear")],
    # data_format given: Keras 3.15.1's jax backend reads None as channels_first here
    # (test_core_ops.py checks lamina's None = channels_last)
    "gaussian_blur": [c(IMG, data_format="channels_last"),
                      c(IMG, kernel_size=(5, 3), sigma=(2.0, 0.5), data_format="channels_last"),
                      c(IMG_CF, data_format="channels_first")],
    "sobel_edges": [c(IMG), c(IMG_CF, data_format="channels_first")],
    "ssim": [c(IMG, IMG * 0.8 + 0.1, filter_size=3), c(IMG[0], IMG[1], filter_size=5),
             c(IMG_CF, IMG_CF[::-1], filter_size=3, data_format="channels_first")],
    "pad_images": [c(IMG, 1, 2, 0, 1), c(IMG[0], top_padding=1, left_padding=0,
                                          target_height=9, target_width=7),
                   c(IMG_CF, 1, 1, 1, 1, data_format="channels_first")],
    "crop_images": [c(IMG, 1, 2, 0, 1), c(IMG[0], top_cropping=1, left_cropping=0,
                                           target_height=4, target_width=5),
                    c(IMG_CF, 1, 1, 1, 1, data_format="channels_first")],
    "extract_patches": [c(IMG, 2), c(IMG, (3, 2), strides=1, padding="same"),
                        c(IMG[0], 2, dilation_rate=2, strides=1),
                        c(np.stack([IMG] * 4, 1), (2, 2, 2))],
    "extract_patches_3d": [c(np.stack([IMG] * 4, 1), 2), c(np.stack([IMG[0]] * 4), (2, 3, 3),
                                                          strides=1)],
    "elastic_transform": [c(IMG, seed=3), c(IMG, alpha=5.0, sigma=1.0, seed=7,
                                             interpolation="nearest", fill_mode="constant")],
}
