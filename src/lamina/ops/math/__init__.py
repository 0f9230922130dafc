"""Keras's math ops (`keras.ops`'s `math` family: segment reductions, top-k, special
functions, spectral transforms) on jax."""
from lamina.ops.math.reductions import cdist as cdist
from lamina.ops.math.reductions import in_top_k as in_top_k
from lamina.ops.math.reductions import logdet as logdet
from lamina.ops.math.reductions import logsumexp as logsumexp
from lamina.ops.math.reductions import segment_max as segment_max
from lamina.ops.math.reductions import segment_min as segment_min
from lamina.ops.math.reductions import segment_prod as segment_prod
from lamina.ops.math.reductions import segment_sum as segment_sum
from lamina.ops.math.reductions import top_k as top_k
from lamina.ops.math.signal import extract_sequences as extract_sequences
from lamina.ops.math.signal import fft as fft
from lamina.ops.math.signal import fft2 as fft2
from lamina.ops.math.signal import ifft2 as ifft2
from lamina.ops.math.signal import irfft as irfft
from lamina.ops.math.signal import istft as istft
from lamina.ops.math.signal import rfft as rfft
from lamina.ops.math.signal import stft as stft
from lamina.ops.math.special import erf as erf
from lamina.ops.math.special import erfc as erfc
from lamina.ops.math.special import erfinv as erfinv
from lamina.ops.math.special import rsqrt as rsqrt
from lamina.ops.math.special import view_as_complex as view_as_complex
from lamina.ops.math.special import view_as_real as view_as_real
