"""Hashing: strings or integers to bins with TensorFlow's hashes, computed in numpy.

A `HostLayer`: it runs on the host, before the compiled part of a model (docs/preprocessing.md).
Keras 3 needs TensorFlow for this layer; lamina reproduces its hashes in
`hash_kernels` (FarmHash Fingerprint64, or SipHash-2-4 when salted), so the bins are Keras's.
"""
import numpy as np

from lamina import config
from lamina.errors import ArgumentTypeError, ConfigurationError, InputSpecError
from lamina.layers.categorical_encoding import encode_categorical
from lamina.layers.category_encoding import check_no_sparse, encoded_shape
from lamina.layers.hash_kernels import fingerprint64, siphash24
from lamina.layers.host_layer import HostLayer

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


def is_text(values: np.ndarray) -> bool:
    return values.dtype.kind in "USO"


_unwrap = np.frompyfunc(lambda v: v.item() if isinstance(v, np.ndarray) else v, 1, 1)


def host_values(inputs) -> np.ndarray:
    """One numpy array for an array or a nested list (whose strings arrive as 0-d arrays)."""
    values = np.asarray(inputs)
    if values.dtype == object:
        values = np.asarray(_unwrap(values), dtype=object)
    return values


def as_bytes(values: np.ndarray, where: str) -> list[bytes]:
    """The bytes TensorFlow hashes for each value: UTF-8 text, or an integer's decimal text
    (`tf.as_string`); floats are truncated to integers first, as Keras's Hashing does."""
    flat = values.reshape(-1)
    if flat.dtype.kind == "f":
        flat = flat.astype(np.int64)
    if flat.dtype.kind == "b":
        return [b"true" if v else b"false" for v in flat.tolist()]
    if flat.dtype.kind in "iu":
        return [str(v).encode() for v in flat.tolist()]
    if flat.dtype.kind not in "USO":
        raise ArgumentTypeError(
            f"{where}: expected strings or integers, received an array of dtype {flat.dtype}.")
    out = []
    for v in flat.tolist():
        if isinstance(v, str):
            out.append(v.encode("utf-8"))
        elif isinstance(v, bytes):
            out.append(v)
        elif isinstance(v, bool):
            out.append(b"true" if v else b"false")
        elif isinstance(v, (int, float)):
            out.append(str(int(v)).encode())
        else:
            raise ArgumentTypeError(
                f"{where}: expected strings or integers, received {v!r} of type "
                f"{type(v).__name__}.")
    return out


class Hashing(HostLayer):
    """Hashes each string or integer into one of `num_bins` bins, exactly as Keras 3 does.

    Args:
        num_bins: the number of bins, including the mask bin when `mask_value` is set.
        mask_value: a value mapped to bin 0; the others then hash into `[1, num_bins)`.
        salt: None for FarmHash Fingerprint64 (`tf.strings.to_hash_bucket_fast`); an int or
            a pair of ints for SipHash-2-4 keyed by `[salt, salt]` or the pair
            (`to_hash_bucket_strong`).
        output_mode: `"int"` (bin indices, int64 unless `dtype` says int32), `"one_hot"`,
            `"multi_hot"` or `"count"` (float32 unless `dtype` says otherwise).
        sparse: must be False (lamina has no sparse tensors).

    Integers are hashed as their decimal text, floats after truncation to integers. Inputs
    are numpy arrays, lists or scalars; the output is a numpy array.
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else config.floatx()
        super().__init__(**kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins <= 0:
            raise ConfigurationError(
                f"Hashing '{self.name}': expected `num_bins` to be an int >= 1, received "
                f"{num_bins!r}.")
        if output_mode not in OUTPUT_MODES:
            raise ConfigurationError(
                f"Hashing '{self.name}': expected `output_mode` in {OUTPUT_MODES}, received "
                f"{output_mode!r}.")
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ConfigurationError(
                f"Hashing '{self.name}': with output_mode='int' expected `dtype` 'int32' or "
                f"'int64', received {self.dtype!r}.")
        check_no_sparse(self, sparse)
        self.num_bins = num_bins
        self.mask_value = mask_value
        self.output_mode = output_mode
        self.sparse = False
        self.salt = self._checked_salt(salt)

    def _checked_salt(self, salt):
        if salt is None:
            return None
        if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(
                isinstance(s, int) and not isinstance(s, bool) for s in salt):
            return list(salt)
        if isinstance(salt, int) and not isinstance(salt, bool):
            return [salt, salt]
        raise ConfigurationError(
            f"Hashing '{self.name}': expected `salt` to be an int or a pair of ints, "
            f"received {salt!r}.")

    def hash_to_bins(self, values: np.ndarray) -> np.ndarray:
        """Bin indices (int64, the shape of `values`) before any encoding."""
        where = f"Hashing '{self.name}'"
        bins, mask = self.num_bins, None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = self._is_mask(values, where)
        strings = as_bytes(values, where)
        hashes = siphash24(strings, self.salt) if self.salt else fingerprint64(strings)
        indices = (hashes % np.uint64(bins)).astype(np.int64)
        if mask is not None:
            indices = np.where(mask.reshape(-1), 0, indices + 1)
        return indices.reshape(values.shape)

    def _is_mask(self, values, where):
        mask_is_text = isinstance(self.mask_value, (str, bytes))
        if values.dtype.kind in ("iufb" if mask_is_text else "US"):
            raise InputSpecError(
                f"{where}: `mask_value={self.mask_value!r}` cannot be compared with inputs of "
                f"dtype {values.dtype}; give a mask value of the inputs' kind (text or number).")
        if not mask_is_text:
            return np.asarray(values == self.mask_value, dtype=bool)
        target = (self.mask_value.encode("utf-8") if isinstance(self.mask_value, str)
                  else self.mask_value)
        return np.array([s == target for s in as_bytes(values, where)]).reshape(values.shape)

    def host_call(self, inputs, **kwargs):
        values = host_values(inputs)
        if self.output_mode == "one_hot" and values.ndim and values.shape[-1] == 1:
            values = values.reshape(values.shape[:-1])
        indices = self.hash_to_bins(values)
        return np.asarray(encode_categorical(indices, self.output_mode, self.num_bins,
                                             dtype=self.dtype, xp=np,
                                             name=f"Hashing '{self.name}'"))

    def host_output_spec(self, shape, dtype):
        shape = tuple(shape)
        if self.output_mode == "one_hot" and shape and shape[-1] == 1:
            shape = shape[:-1]
        return encoded_shape(shape, self.output_mode, self.num_bins), self.dtype

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": self.sparse}


LAYERS = (Hashing,)
