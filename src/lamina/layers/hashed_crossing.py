"""HashedCrossing: crosses of categorical features with the hashing trick, computed in numpy.

A `HostLayer` (docs/preprocessing.md). The bins are those of `tf.sparse.cross_hashed`, which
Keras 3 calls: strings are fingerprinted (FarmHash Fingerprint64), integers enter as their
int64 value, and the features of a sample are combined with TensorFlow's FingerprintCat64
(`hash_kernels.cross_fingerprint`).
"""
import numpy as np

from lamina.errors import ConfigurationError, InputSpecError
from lamina.layers.categorical_encoding import encode_categorical
from lamina.layers.category_encoding import check_no_sparse, encoded_shape
from lamina.layers.hash_kernels import cross_fingerprint, fingerprint64
from lamina.layers.hashing import as_bytes, host_values, is_text
from lamina.layers.host_layer import HostLayer

OUTPUT_MODES = ("int", "one_hot")


class HashedCrossing(HostLayer):
    """Crosses scalar features: `hash(feature_1, ..., feature_n) % num_bins`, as Keras 3.

    Args:
        num_bins: the number of bins (an int >= 1).
        output_mode: `"int"` (bin indices, int64 unless `dtype` says otherwise) or
            `"one_hot"` (float32 unless `dtype` says otherwise).
        sparse: must be False (lamina has no sparse tensors).

    Call it on a list or tuple of two or more features of equal shape `()`, `(batch,)` or
    `(batch, 1)`, each of integers or strings. The output is a numpy array.
    """

    takes_feature_list = True

    def __init__(self, num_bins, output_mode="int", sparse=False, **kwargs):
        if output_mode == "int" and kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64"
        super().__init__(**kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins <= 0:
            raise ConfigurationError(
                f"HashedCrossing '{self.name}': expected `num_bins` to be an int >= 1, "
                f"received {num_bins!r}.")
        if output_mode not in OUTPUT_MODES:
            raise ConfigurationError(
                f"HashedCrossing '{self.name}': expected `output_mode` in {OUTPUT_MODES}, "
                f"received {output_mode!r}.")
        check_no_sparse(self, sparse)
        self.num_bins = num_bins
        self.output_mode = output_mode
        self.sparse = False

    def _checked(self, inputs):
        where = f"HashedCrossing '{self.name}'"
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            received = (f"{len(inputs)} feature(s)" if isinstance(inputs, (list, tuple))
                        else type(inputs).__name__)
            raise InputSpecError(
                f"{where}: expected a list or tuple of at least two features, received "
                f"{received}.")
        features = [host_values(x) for x in inputs]
        shape = features[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise InputSpecError(
                f"{where}: expected features of shape (), (batch,) or (batch, 1), received "
                f"shape {shape}.")
        if any(f.shape != shape for f in features):
            raise InputSpecError(
                f"{where}: expected features of equal shape, received shapes "
                f"{[f.shape for f in features]}.")
        for f in features:
            if not (f.dtype.kind in "iu" or is_text(f)):
                raise InputSpecError(
                    f"{where}: expected integer or string features, received dtype {f.dtype}.")
        return features, where

    def host_call(self, inputs, **kwargs):
        features, where = self._checked(inputs)
        columns = [fingerprint64(as_bytes(f, where)) if is_text(f)
                   else f.reshape(-1).astype(np.int64).view(np.uint64) for f in features]
        bins = (cross_fingerprint(columns) % np.uint64(self.num_bins)).astype(np.int64)
        bins = bins.reshape(features[0].shape)
        return np.asarray(encode_categorical(bins, self.output_mode, self.num_bins,
                                             dtype=self.dtype, xp=np, name=where))

    def host_output_spec(self, shape, dtype):
        first = tuple(shape[0]) if isinstance(shape, (list, tuple)) and shape and isinstance(
            shape[0], (list, tuple)) else tuple(shape)
        return encoded_shape(first, self.output_mode, self.num_bins), self.dtype

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins,
                "output_mode": self.output_mode, "sparse": self.sparse}


LAYERS = (HashedCrossing,)
