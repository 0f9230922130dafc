"""Keras numpy ops: binary."""
import jax.numpy as jnp

from lamina.ops.tensors import tensor


def add(x1, x2):
    """Add arguments element-wise."""
    return jnp.add(tensor(x1), tensor(x2))


def arctan2(x1, x2):
    """Element-wise arc tangent of `x1/x2` choosing the quadrant correctly."""
    return jnp.arctan2(tensor(x1), tensor(x2))


def bitwise_and(x, y):
    """Compute the bit-wise AND of two arrays element-wise."""
    return jnp.bitwise_and(tensor(x), tensor(y))


def bitwise_left_shift(x, y):
    """Shift the bits of an integer to the left."""
    return jnp.bitwise_left_shift(tensor(x), tensor(y))


def bitwise_or(x, y):
    """Compute the bit-wise OR of two arrays element-wise."""
    return jnp.bitwise_or(tensor(x), tensor(y))


def bitwise_right_shift(x, y):
    """Shift the bits of an integer to the right."""
    return jnp.bitwise_right_shift(tensor(x), tensor(y))


def bitwise_xor(x, y):
    """Compute the bit-wise XOR of two arrays element-wise."""
    return jnp.bitwise_xor(tensor(x), tensor(y))


def divide(x1, x2):
    """Divide arguments element-wise."""
    return jnp.divide(tensor(x1), tensor(x2))


def divide_no_nan(x1, x2):
    """Safe element-wise division which returns 0 where the denominator is 0."""
    x1, x2 = tensor(x1), tensor(x2)
    zero = x2 == 0
    return jnp.where(zero, 0, jnp.divide(x1, jnp.where(zero, 1, x2)))


def equal(x1, x2):
    """Returns `(x1 == x2)` element-wise."""
    return jnp.equal(tensor(x1), tensor(x2))


def floor_divide(x1, x2):
    """Returns the largest integer smaller or equal to the division of inputs."""
    return jnp.floor_divide(tensor(x1), tensor(x2))


def fmax(x1, x2):
    """Element-wise maximum of tensor elements, ignoring NaNs."""
    return jnp.fmax(tensor(x1), tensor(x2))


def fmin(x1, x2):
    """Element-wise minimum of tensor elements, ignoring NaNs."""
    return jnp.fmin(tensor(x1), tensor(x2))


def fmod(x1, x2):
    """Returns the element-wise remainder of division with truncation."""
    return jnp.fmod(tensor(x1), tensor(x2))


def gcd(x1, x2):
    """Greatest common divisor of `x1` and `x2`, element-wise."""
    return jnp.gcd(tensor(x1), tensor(x2))


def greater(x1, x2):
    """Return the truth value of `x1 > x2` element-wise."""
    return jnp.greater(tensor(x1), tensor(x2))


def greater_equal(x1, x2):
    """Return the truth value of `x1 >= x2` element-wise."""
    return jnp.greater_equal(tensor(x1), tensor(x2))


def heaviside(x1, x2):
    """Heaviside step function."""
    return jnp.heaviside(tensor(x1), tensor(x2))


def hypot(x1, x2):
    """Element-wise hypotenuse of right triangles with legs `x1` and `x2`."""
    return jnp.hypot(tensor(x1), tensor(x2))


def lcm(x1, x2):
    """Least common multiple of `x1` and `x2`, element-wise."""
    return jnp.lcm(tensor(x1), tensor(x2))


def ldexp(x1, x2):
    """Multiply `x1` by 2 raised to the power of `x2`, element-wise."""
    return jnp.ldexp(tensor(x1), tensor(x2))


def left_shift(x, y):
    """Shift the bits of an integer to the left."""
    return jnp.left_shift(tensor(x), tensor(y))


def less(x1, x2):
    """Return the truth value of `x1 < x2` element-wise."""
    return jnp.less(tensor(x1), tensor(x2))


def less_equal(x1, x2):
    """Return the truth value of `x1 <= x2` element-wise."""
    return jnp.less_equal(tensor(x1), tensor(x2))


def logaddexp(x1, x2):
    """Logarithm of the sum of exponentiations of the inputs."""
    return jnp.logaddexp(tensor(x1), tensor(x2))


def logaddexp2(x1, x2):
    """Base-2 logarithm of the sum of exponentiations of the inputs."""
    return jnp.logaddexp2(tensor(x1), tensor(x2))


def logical_and(x1, x2):
    """Computes the element-wise logical AND of the given input tensors."""
    return jnp.logical_and(tensor(x1), tensor(x2))


def logical_or(x1, x2):
    """Computes the element-wise logical OR of the given input tensors."""
    return jnp.logical_or(tensor(x1), tensor(x2))


def logical_xor(x1, x2):
    """Compute the truth value of `x1 XOR x2`, element-wise."""
    return jnp.logical_xor(tensor(x1), tensor(x2))


def maximum(x1, x2):
    """Element-wise maximum of `x1` and `x2`."""
    return jnp.maximum(tensor(x1), tensor(x2))


def minimum(x1, x2):
    """Element-wise minimum of `x1` and `x2`."""
    return jnp.minimum(tensor(x1), tensor(x2))


def mod(x1, x2):
    """Returns the element-wise remainder of division."""
    return jnp.mod(tensor(x1), tensor(x2))


def multiply(x1, x2):
    """Multiply arguments element-wise."""
    return jnp.multiply(tensor(x1), tensor(x2))


def nextafter(x1, x2):
    """Return the next representable floating-point value after `x1` towards `x2`."""
    return jnp.nextafter(tensor(x1), tensor(x2))


def not_equal(x1, x2):
    """Return `(x1 != x2)` element-wise."""
    return jnp.not_equal(tensor(x1), tensor(x2))


def power(x1, x2):
    """First tensor elements raised to powers from second tensor, element-wise."""
    return jnp.power(tensor(x1), tensor(x2))


def right_shift(x, y):
    """Shift the bits of an integer to the right."""
    return jnp.right_shift(tensor(x), tensor(y))


def subtract(x1, x2):
    """Subtract arguments element-wise."""
    return jnp.subtract(tensor(x1), tensor(x2))


def true_divide(x1, x2):
    """Alias for `keras.ops.divide`."""
    return jnp.true_divide(tensor(x1), tensor(x2))


def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Return whether two tensors are element-wise almost equal."""
    return jnp.isclose(tensor(x1), tensor(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Returns True if two arrays are element-wise equal within a tolerance."""
    return jnp.allclose(tensor(x1), tensor(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def isin(x1, x2, assume_unique=False, invert=False):
    """Test whether each element of `x1` is present in `x2`."""
    return jnp.isin(tensor(x1), tensor(x2), assume_unique=assume_unique, invert=invert)
