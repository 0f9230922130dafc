"""Keras numpy ops: elementwise."""
import jax.numpy as jnp

from lamina.ops.tensors import FLOATX, floating, is_float, tensor


def abs(x):
    """Shorthand for `keras.ops.absolute`."""
    return jnp.abs(tensor(x))


def absolute(x):
    """Compute the absolute value element-wise."""
    return jnp.absolute(tensor(x))


def angle(x):
    """Element-wise angle of a complex tensor."""
    return jnp.angle(tensor(x))


def arccos(x):
    """Trigonometric inverse cosine, element-wise."""
    return jnp.arccos(tensor(x))


def arccosh(x):
    """Inverse hyperbolic cosine, element-wise."""
    return jnp.arccosh(tensor(x))


def arcsin(x):
    """Inverse sine, element-wise."""
    return jnp.arcsin(tensor(x))


def arcsinh(x):
    """Inverse hyperbolic sine, element-wise."""
    return jnp.arcsinh(tensor(x))


def arctan(x):
    """Trigonometric inverse tangent, element-wise."""
    return jnp.arctan(tensor(x))


def arctanh(x):
    """Inverse hyperbolic tangent, element-wise."""
    return jnp.arctanh(tensor(x))


def bitwise_invert(x):
    """Compute bit-wise inversion, or bit-wise NOT, element-wise."""
    return jnp.bitwise_invert(tensor(x))


def bitwise_not(x):
    """Compute bit-wise inversion, or bit-wise NOT, element-wise."""
    return jnp.bitwise_not(tensor(x))


def cbrt(x):
    """Computes the cube root of the input tensor, element-wise."""
    return jnp.cbrt(tensor(x))


def ceil(x):
    """Return the ceiling of the input, element-wise (ints and bools give float32, as in Keras)."""
    return jnp.ceil(floating(tensor(x)))


def conj(x):
    """Shorthand for `keras.ops.conjugate`."""
    return jnp.conj(tensor(x))


def conjugate(x):
    """Returns the complex conjugate, element-wise."""
    return jnp.conjugate(tensor(x))


def copy(x):
    """Returns a copy of `x`."""
    return jnp.copy(tensor(x))


def cos(x):
    """Cosine, element-wise."""
    return jnp.cos(tensor(x))


def cosh(x):
    """Hyperbolic cosine, element-wise."""
    return jnp.cosh(tensor(x))


def deg2rad(x):
    """Convert angles from degrees to radians."""
    return jnp.deg2rad(tensor(x))


def exp(x):
    """Calculate the exponential of all elements in the input tensor."""
    return jnp.exp(tensor(x))


def exp2(x):
    """Calculate the base-2 exponential of all elements in the input tensor."""
    return jnp.exp2(tensor(x))


def expm1(x):
    """Calculate `exp(x) - 1` for all elements in the tensor."""
    return jnp.expm1(tensor(x))


def fabs(x):
    """Compute the absolute values element-wise."""
    return jnp.fabs(tensor(x))


def floor(x):
    """Return the floor of the input, element-wise (ints and bools give float32, as in Keras)."""
    return jnp.floor(floating(tensor(x)))


def i0(x):
    """Modified Bessel function of the first kind, order 0."""
    return jnp.i0(tensor(x))


def imag(x):
    """Return the imaginary part of the complex argument."""
    return jnp.imag(tensor(x))


def isfinite(x):
    """Return whether a tensor is finite, element-wise."""
    return jnp.isfinite(tensor(x))


def isinf(x):
    """Test element-wise for positive or negative infinity."""
    return jnp.isinf(tensor(x))


def isnan(x):
    """Test element-wise for NaN and return result as a boolean tensor."""
    return jnp.isnan(tensor(x))


def isneginf(x):
    """Test element-wise for negative infinity."""
    return jnp.isneginf(tensor(x))


def isposinf(x):
    """Test element-wise for positive infinity."""
    return jnp.isposinf(tensor(x))


def isreal(x):
    """Test element-wise for real numbers."""
    return jnp.isreal(tensor(x))


def log(x):
    """Natural logarithm, element-wise."""
    return jnp.log(tensor(x))


def log10(x):
    """Return the base 10 logarithm of the input tensor, element-wise."""
    return jnp.log10(tensor(x))


def log1p(x):
    """Returns the natural logarithm of one plus the `x`, element-wise."""
    return jnp.log1p(tensor(x))


def log2(x):
    """Base-2 logarithm of `x`, element-wise."""
    return jnp.log2(tensor(x))


def logical_not(x):
    """Computes the element-wise NOT of the given input tensor."""
    return jnp.logical_not(tensor(x))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with zero and infinity with large finite numbers."""
    return jnp.nan_to_num(tensor(x), nan=nan, posinf=posinf, neginf=neginf)


def negative(x):
    """Numerical negative, element-wise."""
    return jnp.negative(tensor(x))


def rad2deg(x):
    """Convert angles from radians to degrees."""
    return jnp.rad2deg(tensor(x))


def real(x):
    """Return the real part of the complex argument."""
    return jnp.real(tensor(x))


def reciprocal(x):
    """Return the reciprocal of the argument, element-wise."""
    return jnp.reciprocal(tensor(x))


def round(x, decimals=0):
    """Evenly round to the given number of decimals (negative decimals round ints too)."""
    x = tensor(x)
    if jnp.issubdtype(x.dtype, jnp.integer) and decimals < 0:
        factor = jnp.asarray(10.0**decimals, FLOATX)
        return jnp.round(x.astype(FLOATX) * factor).__truediv__(factor).astype(x.dtype)
    return jnp.round(x, decimals=decimals)


def sign(x):
    """Returns a tensor with the signs of the elements of `x`."""
    return jnp.sign(tensor(x))


def signbit(x):
    """Return the sign bit of the elements of `x`."""
    return jnp.signbit(tensor(x))


def sin(x):
    """Trigonometric sine, element-wise."""
    return jnp.sin(tensor(x))


def sinc(x):
    """Return the normalized sinc function."""
    return jnp.sinc(tensor(x))


def sinh(x):
    """Hyperbolic sine, element-wise."""
    return jnp.sinh(tensor(x))


def sqrt(x):
    """Return the non-negative square root of a tensor, element-wise."""
    return jnp.sqrt(tensor(x))


def square(x):
    """Return the element-wise square of the input."""
    return jnp.square(tensor(x))


def tan(x):
    """Compute tangent, element-wise."""
    return jnp.tan(tensor(x))


def tanh(x):
    """Hyperbolic tangent, element-wise."""
    return jnp.tanh(tensor(x))


def trunc(x):
    """Return the truncated value of the input, element-wise (ints and bools unchanged)."""
    x = tensor(x)
    return jnp.trunc(x) if is_float(x) else x


def clip(x, x_min, x_max):
    """Clip (limit) the values in a tensor."""
    return jnp.clip(tensor(x), x_min, x_max)
