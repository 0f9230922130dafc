"""Keras 3's `keras.config`: global numeric settings, the backend name, and JAX switches.

`floatx` / `epsilon` / `image_data_format` are read by lamina's utilities and datasets
(`lamina.utils.img_to_array`, `array_to_img`, the CIFAR loaders, the image dataset
reader). `set_floatx` also moves the default dtype policy of layers created afterwards,
unless a mixed-precision policy was set (`lamina.mixed_precision.set_global_policy`), as
Keras does. Layers keep `data_format="channels_last"` by default whatever
`set_image_data_format` says: pass `data_format=` to a layer to change it (docs/utils.md).
"""
import jax

from lamina.core import dtype_policy as _dtype_policy
from lamina.errors import ConfigurationError

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_FLAGS = {"flash_attention": None, "unsafe_deserialization": False}


def backend():
    """The backend name: always "jax" (lamina runs on JAX)."""
    return "jax"


def floatx():
    """The default float type as a string (default "float32")."""
    return _FLOATX


def set_floatx(value):
    """Set the default float type ("bfloat16", "float16", "float32" or "float64"); layers
    created afterwards use it unless a mixed global policy is set."""
    global _FLOATX
    accepted = ("bfloat16", "float16", "float32", "float64")
    if value not in accepted:
        raise ConfigurationError(
            f"set_floatx: expected one of {accepted}, received {value!r}.")
    if not _dtype_policy.global_policy().is_mixed:
        _dtype_policy.set_global_policy(value)
    _FLOATX = str(value)


def epsilon():
    """The fuzz factor used in numeric expressions (default 1e-7)."""
    return _EPSILON


def set_epsilon(value):
    """Set the value returned by `epsilon()` (lamina's losses keep Keras's 1e-7)."""
    global _EPSILON
    _EPSILON = float(value)


def image_data_format():
    """"channels_last" (default) or "channels_first": how the image utilities order axes."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format):
    """Set the value returned by `image_data_format()`."""
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ConfigurationError(
            "set_image_data_format: expected 'channels_first' or 'channels_last', "
            f"received {data_format!r}.")
    _IMAGE_DATA_FORMAT = value


def standardize_data_format(data_format):
    """`data_format`, or `image_data_format()` when it is None, checked."""
    if data_format is None:
        return image_data_format()
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ConfigurationError(
            "data_format: expected 'channels_first' or 'channels_last', received "
            f"{data_format!r}.")
    return value


def dtype_policy():
    """The global dtype policy (`lamina.mixed_precision.global_policy`)."""
    return _dtype_policy.global_policy()


def set_dtype_policy(policy):
    """Set the global dtype policy (`lamina.mixed_precision.set_global_policy`)."""
    _dtype_policy.set_global_policy(policy)


def enable_unsafe_deserialization():
    """Accepted for Keras compatibility. lamina's files never hold code (a `Lambda` is saved
    by the name of a registered function), so there is no unsafe mode to enable; the call is
    recorded and changes nothing that is loaded."""
    _FLAGS["unsafe_deserialization"] = True


def enable_traceback_filtering():
    """Let JAX hide its internal frames from tracebacks (`jax_traceback_filtering="auto"`)."""
    jax.config.update("jax_traceback_filtering", "auto")


def disable_traceback_filtering():
    """Show JAX's internal frames in tracebacks (`jax_traceback_filtering="off"`)."""
    jax.config.update("jax_traceback_filtering", "off")


def is_traceback_filtering_enabled():
    """True unless JAX's traceback filtering is "off"."""
    return jax.config.jax_traceback_filtering != "off"  # pyright: ignore[reportAttributeAccessIssue]


def enable_flash_attention():
    """Reset the flash-attention flag to Keras's default, None ("use it where supported").
    lamina's attention layers compute attention with plain XLA operations on every device;
    the flag is recorded for Keras compatibility."""
    _FLAGS["flash_attention"] = None


def disable_flash_attention():
    """Record that flash attention is not wanted (see `enable_flash_attention`)."""
    _FLAGS["flash_attention"] = False


def is_flash_attention_enabled():
    """The recorded flag: None until `enable_`/`disable_flash_attention` is called (Keras's
    default)."""
    return _FLAGS["flash_attention"]


def enable_compilation_cache(path, min_compile_time_secs=1.0):
    """Keep compiled XLA programs in `path` across processes (JAX's persistent compilation
    cache): a later run of the same model skips compiling. Programs that compiled faster
    than `min_compile_time_secs` are not stored."""
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs))
