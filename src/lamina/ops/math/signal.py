"""Keras's spectral ops: `fft`, `fft2`, `ifft2`, `rfft`, `irfft`, `stft`, `istft`,
`extract_sequences`. Complex values travel as Keras's `(real, imag)` pairs of float tensors.
"""
import math

import jax
import jax.numpy as jnp

from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError
from lamina.ops.tensors import tensor


def _complex(x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ArgumentTypeError("lamina.ops: expected a (real, imag) pair of float tensors. "
                                f"Received: {type(x).__name__}.")
    real, imag = tensor(x[0]), tensor(x[1])
    if real.shape != imag.shape or not (jnp.issubdtype(real.dtype, jnp.floating)
                                        and jnp.issubdtype(imag.dtype, jnp.floating)):
        raise InputSpecError("lamina.ops: real and imaginary parts must be float tensors of one "
                             f"shape. Received {real.dtype}{real.shape}, {imag.dtype}{imag.shape}.")
    return jax.lax.complex(real, imag)


def _pair(z):
    return jnp.real(z), jnp.imag(z)


def fft(x):
    """Fast Fourier transform along the last axis of a (real, imag) pair."""
    return _pair(jnp.fft.fft(_complex(x)))


def fft2(x):
    """2-D fast Fourier transform over the last two axes of a (real, imag) pair."""
    return _pair(jnp.fft.fft2(_complex(x)))


def ifft2(x):
    """Inverse 2-D fast Fourier transform over the last two axes of a (real, imag) pair."""
    return _pair(jnp.fft.ifft2(_complex(x)))


def rfft(x, fft_length=None):
    """Real-input fast Fourier transform along the last axis, as a (real, imag) pair."""
    return _pair(jnp.fft.rfft(tensor(x), n=fft_length, axis=-1))


def irfft(x, fft_length=None):
    """Inverse of `rfft`: a real signal from a (real, imag) pair."""
    return jnp.fft.irfft(_complex(x), n=fft_length, axis=-1)


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of `sequence_length` samples every `sequence_stride` along the last axis."""
    x = tensor(x)
    *batch, length = x.shape
    frames = jax.lax.conv_general_dilated_patches(
        x.reshape(math.prod(batch), length, 1), (sequence_length,), (sequence_stride,),
        "VALID", dimension_numbers=("NTC", "OIT", "NTC"))
    return frames.reshape(*batch, *frames.shape[-2:])


def _window(window, sequence_length, fft_length, dtype):
    """The analysis window, centred in `fft_length` (periodic Hann/Hamming, as scipy's
    `get_window`), or ones for None."""
    if window is None:
        return jnp.ones(fft_length, dtype)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ConfigurationError("lamina.ops: window must be 'hann', 'hamming', a tensor or "
                                     f"None. Received: window={window!r}.")
        a = 0.5 if window == "hann" else 0.54
        phase = 2 * jnp.pi * jnp.arange(sequence_length) / sequence_length
        window = a - (1 - a) * jnp.cos(phase)
    window = tensor(window).astype(dtype)
    if window.shape != (sequence_length,):
        raise InputSpecError(f"lamina.ops: the window must have shape ({sequence_length},). "
                             f"Received shape {window.shape}.")
    low = (fft_length - sequence_length) // 2
    return jnp.pad(window, (low, fft_length - sequence_length - low))


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform along the last axis, as a (real, imag) pair of
    (..., frames, fft_length // 2 + 1) tensors."""
    x = tensor(x)
    if x.dtype not in (jnp.float32, jnp.float64):
        raise ArgumentTypeError(f"lamina.ops.stft: expected float32 input. Received {x.dtype}.")
    if fft_length < sequence_length:
        raise ConfigurationError("lamina.ops.stft: fft_length must be >= sequence_length. "
                                 f"Received {fft_length} < {sequence_length}.")
    if center:
        half = fft_length // 2
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)], mode="reflect")
    win = _window(window, sequence_length, fft_length, x.dtype)
    frames = extract_sequences(x, fft_length, sequence_stride) * win
    return _pair(jnp.fft.rfft(frames, n=fft_length, axis=-1))


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
          center=True):
    """Inverse of `stft` by windowed overlap-add, normalised by the summed squared window."""
    z = _complex(x)
    if z.ndim < 2:
        raise InputSpecError(f"lamina.ops.istft: expected (..., frames, bins). Received {z.shape}.")
    dtype = jnp.real(z).dtype
    win = _window(window, sequence_length, fft_length, dtype)
    frames = jnp.fft.irfft(z, n=fft_length, axis=-1) * win
    count = z.shape[-2]
    total = fft_length + sequence_stride * (count - 1)
    starts = jnp.arange(count) * sequence_stride
    positions = (starts[:, None] + jnp.arange(fft_length)[None, :]).reshape(-1)
    signal = jnp.zeros((*z.shape[:-2], total), dtype).at[..., positions].add(
        frames.reshape(*z.shape[:-2], -1))
    norm = jnp.zeros(total, dtype).at[positions].add(jnp.tile(win * win, count))
    signal = signal / jnp.where(norm > 1e-10, norm, 1.0)
    if window is None:  # Keras rescales the unwindowed inverse by fft_length / stride
        signal = signal * (fft_length / sequence_stride)
    start = fft_length // 2 if center else 0
    end = start + length if length is not None else (total - fft_length // 2 if center else total)
    return signal[..., start:end]
