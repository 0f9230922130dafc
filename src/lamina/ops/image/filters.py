"""Keras's image filters: `gaussian_blur`, `sobel_edges`, `ssim`."""
import jax
import jax.numpy as jnp

from lamina.errors import InputSpecError
from lamina.ops.nn.convolution import data_format_of
from lamina.ops.tensors import float_result, tensor


def _batched_nchw(name, images, data_format):
    """(images as a float NCHW batch, whether a single image was given, channels-last?)."""
    images = tensor(images)
    if images.ndim not in (3, 4):
        raise InputSpecError(f"lamina.ops.image.{name}: expected a 3-D image or a 4-D batch. "
                             f"Received shape {images.shape}.")
    single = images.ndim == 3
    images = images[None] if single else images
    last = data_format_of(data_format) == "channels_last"
    return (images.transpose(0, 3, 1, 2) if last else images), single, last


def _depthwise(images, kernel):
    """Each channel of an NCHW batch convolved ("same") with one (kh, kw) kernel."""
    channels = images.shape[1]
    kernel = jnp.tile(kernel[None, None], (channels, 1, 1, 1)).astype(images.dtype)
    return jax.lax.conv_general_dilated(images, kernel, (1, 1), "SAME",
                                        dimension_numbers=("NCHW", "OIHW", "NCHW"),
                                        feature_group_count=channels)


def _gaussian(size, sigma, dtype):
    x = jnp.arange(size, dtype=dtype) - jnp.asarray((size - 1) / 2, dtype)
    weights = jnp.exp(-0.5 * (x / sigma) ** 2)
    return weights / jnp.sum(weights)


def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Blur each channel with a Gaussian of `kernel_size` and `sigma` (x, y), "same" size."""
    x, single, last = _batched_nchw("gaussian_blur", images, data_format)
    sigma = tensor(sigma, x.dtype)
    kernel = jnp.outer(_gaussian(kernel_size[1], sigma[1], x.dtype),
                       _gaussian(kernel_size[0], sigma[0], x.dtype))
    out = _depthwise(x, kernel)
    out = out.transpose(0, 2, 3, 1) if last else out
    return out[0] if single else out


def sobel_edges(images, data_format=None):
    """Sobel gradients per channel, stacked on a new last axis as (dy, dx)."""
    x, _, last = _batched_nchw("sobel_edges", images, data_format)
    dx = jnp.asarray([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    edges = [_depthwise(x, k) for k in (dx.T, dx)]
    if last:
        edges = [e.transpose(0, 2, 3, 1) for e in edges]
    return jnp.stack(edges, axis=-1)


def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
         data_format=None):
    """Structural similarity per image (mean over channels), Gaussian window, "valid"."""
    a, b = tensor(image1), tensor(image2)
    dtype = a.dtype
    compute = float_result(a)
    if a.ndim not in (3, 4) or a.shape != b.shape:
        raise InputSpecError("lamina.ops.image.ssim: expected two 3-D images or 4-D batches of "
                             f"one shape. Received {a.shape} and {b.shape}.")
    single = a.ndim == 3
    a, b = (v.astype(compute)[None] if single else v.astype(compute) for v in (a, b))
    if data_format_of(data_format) == "channels_last":
        a, b = a.transpose(0, 3, 1, 2), b.transpose(0, 3, 1, 2)
    window = _gaussian(filter_size, filter_sigma, compute)
    kernel = jnp.outer(window, window)[None, None]

    def blur(v):
        flat = v.reshape(-1, 1, *v.shape[2:])
        return jax.lax.conv_general_dilated(flat, kernel, (1, 1), "VALID",
                                            dimension_numbers=("NCHW", "OIHW", "NCHW"))

    mu1, mu2 = blur(a), blur(b)
    var1, var2, cov = blur(a * a) - mu1**2, blur(b * b) - mu2**2, blur(a * b) - mu1 * mu2
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    numerator = (2 * mu1 * mu2 + c1) * (2 * cov + c2)
    ssim_map = numerator / ((mu1**2 + mu2**2 + c1) * (var1 + var2 + c2))
    per_image = jnp.mean(ssim_map, axis=(1, 2, 3)).reshape(a.shape[0], a.shape[1]).mean(-1)
    return (per_image[0] if single else per_image).astype(dtype)
