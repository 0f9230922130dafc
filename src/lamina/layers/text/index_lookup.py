"""Keras's index lookup on the host: the core of `StringLookup`, `IntegerLookup` and
`TextVectorization`.

The vocabulary is laid out as Keras lays it: in `output_mode="int"` index 0 is the mask
token (when there is one), then `num_oov_indices` out-of-vocabulary indices, then the
tokens; in the other modes the mask token has no index (it encodes as nothing). `adapt`
orders tokens by frequency, ties by token from high to low, as Keras does.
"""
from typing import Any

import numpy as np

from lamina.errors import ConfigurationError, InputSpecError, NotSupportedError, UsageError
from lamina.layers.categorical_encoding import OUTPUT_MODES, encode_categorical
from lamina.layers.host_layer import HostLayer
from lamina.layers.text import vocabulary as vocab_lib

MSG_NO_VOCABULARY = """\
{cls} '{name}': expected a vocabulary before a call with output_mode={mode!r} and
pad_to_max_tokens=False (the output width is the vocabulary size), received a layer without
one. Call `layer.adapt(data)` or pass `vocabulary=[...]` (or `layer.set_vocabulary(...)`)."""


def _mode(output_mode):
    return {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)


class IndexLookup(HostLayer):
    """Maps tokens to indices (or back, with `invert`) and encodes them per `output_mode`."""

    is_string: bool = True

    def __init__(self, max_tokens: int | None, num_oov_indices: int, mask_token: Any,
                 oov_token: Any, vocabulary: Any = None, idf_weights: Any = None,
                 invert: bool = False, output_mode: str = "int", sparse: bool = False,
                 pad_to_max_tokens: bool = False, name: str | None = None,
                 vocabulary_size: int | None = None, **kwargs: Any) -> None:
        kwargs.pop("dtype", None)
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(name=name, **kwargs)
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode = invert, _mode(output_mode)
        self.sparse, self.pad_to_max_tokens = sparse, pad_to_max_tokens
        self._check_arguments(idf_weights)
        self._tokens: list | None = None
        self._index: dict = {}
        self.idf_weights: np.ndarray | None = None
        self._counts: vocab_lib.TokenCounts | None = None
        self._has_input_vocabulary = vocabulary is not None
        if vocabulary is not None:
            if self.output_mode == "tf_idf" and idf_weights is None:
                raise ConfigurationError(
                    f"{self._owner()}: with `vocabulary=` and output_mode='tf_idf' expected "
                    "`idf_weights=` too, received None.")
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    def _owner(self):
        return f"{type(self).__name__} '{self.name}'"

    def _check_arguments(self, idf_weights):
        owner = self._owner()
        problems = [
            (self.max_tokens is not None and self.max_tokens <= 1,
             f"`max_tokens` greater than 1, received {self.max_tokens}"),
            (self.pad_to_max_tokens and self.max_tokens is None,
             "`max_tokens` set when `pad_to_max_tokens=True`, received None"),
            (self.num_oov_indices < 0,
             f"`num_oov_indices` >= 0, received {self.num_oov_indices}"),
            (self.output_mode not in OUTPUT_MODES,
             f"`output_mode` in {OUTPUT_MODES}, received {self.output_mode!r}"),
            (self.invert and self.output_mode != "int",
             f"output_mode='int' when `invert=True`, received {self.output_mode!r}"),
            (idf_weights is not None and self.output_mode != "tf_idf",
             f"`idf_weights` only with output_mode='tf_idf', received output_mode="
             f"{self.output_mode!r}"),
        ]
        for failed, message in problems:
            if failed:
                raise ConfigurationError(f"{owner}: expected {message}.")
        if self.sparse:
            raise NotSupportedError(
                f"{owner}: `sparse=True` is not supported (lamina has no sparse tensors; "
                "Keras supports it only on TensorFlow). Use sparse=False.")
        if self.is_string and self.num_oov_indices > 1:
            raise NotSupportedError(
                f"{owner}: `num_oov_indices` > 1 on strings hashes them with TensorFlow's "
                f"farmhash, which lamina does not have; received {self.num_oov_indices}. "
                "Use num_oov_indices=1 (or 0).")

    # -- the vocabulary --------------------------------------------------------------
    def _oov_start(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self):
        return self._oov_start() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices, the mask and OOV indices included."""
        return len(self._tokens or ()) + self._token_start()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        vocab = ([self.mask_token] * self._oov_start() + [self.oov_token] *
                 self.num_oov_indices + list(self._tokens or ()))
        return vocab if include_special_tokens else vocab[self._token_start():]

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Set the tokens (a list or array, or the path of a file with one token a line),
        with the special tokens at the front or without them, as Keras accepts them."""
        owner = self._owner()
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ConfigurationError(f"{owner}: output_mode='tf_idf' expected `idf_weights` "
                                     "with the vocabulary, received None.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ConfigurationError(f"{owner}: `idf_weights` only with output_mode="
                                     f"'tf_idf', received output_mode={self.output_mode!r}.")
        if isinstance(vocabulary, str):
            if self.output_mode == "tf_idf":
                raise ConfigurationError(f"{owner}: output_mode='tf_idf' cannot read its "
                                         "vocabulary from a file; pass a list and idf_weights.")
            vocabulary = vocab_lib.read_vocabulary_file(vocabulary, self.is_string, owner)
        vocabulary = [self._token(t) for t in np.asarray(vocabulary).reshape(-1).tolist()]
        if not vocabulary:
            raise ConfigurationError(f"{owner}: expected a non-empty vocabulary, received [].")
        special = self.get_vocabulary()[:self._token_start()]
        found_special = vocabulary[:len(special)] == special
        tokens = vocabulary[len(special):] if found_special else vocabulary
        self._check_tokens(tokens, special)
        self._tokens = tokens
        self._index = {t: i + self._token_start() for i, t in enumerate(tokens)}
        if idf_weights is not None:
            self.idf_weights = self._padded_idf(idf_weights, len(vocabulary), found_special)

    def _check_tokens(self, tokens, special):
        owner = self._owner()
        again = vocab_lib.repeated(tokens)
        if again:
            raise ConfigurationError(f"{owner}: expected unique tokens, received the repeated "
                                     f"tokens {again}.")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ConfigurationError(
                f"{owner}: found the mask token {self.mask_token!r} inside the vocabulary. "
                f"Leave it out, or put the special tokens first in this order: {special}.")
        if self.invert and self.oov_token in tokens:
            raise ConfigurationError(
                f"{owner}: found the OOV token {self.oov_token!r} inside the vocabulary. "
                f"Leave it out, or put the special tokens first in this order: {special}.")
        size = self._token_start() + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ConfigurationError(f"{owner}: expected at most max_tokens={self.max_tokens} "
                                     f"indices, received a vocabulary of {size}.")

    def _padded_idf(self, idf_weights, length, found_special):
        weights = np.asarray(idf_weights, dtype=np.float32)
        if weights.ndim != 1 or len(weights) != length:
            raise ConfigurationError(
                f"{self._owner()}: expected `idf_weights` of shape ({length},), one per "
                f"vocabulary entry, received shape {weights.shape}.")
        front = 0 if found_special else self._token_start()
        weights = np.concatenate([np.full(front, weights.mean(), np.float32), weights])
        if self.pad_to_max_tokens and self.max_tokens is not None:
            weights = np.concatenate([weights, np.zeros(self.max_tokens - len(weights),
                                                        np.float32)])
        return weights

    def _token(self, token):
        if self.is_string:
            return token.decode("utf-8") if isinstance(token, bytes) else str(token)
        return int(token)

    # -- adapt -----------------------------------------------------------------------
    def reset_state(self) -> None:
        self._counts = vocab_lib.TokenCounts()

    def update_state(self, data: Any) -> None:
        if self._has_input_vocabulary:
            raise UsageError(f"{self._owner()}: cannot adapt a layer whose vocabulary was "
                             "given (`vocabulary=` or `set_vocabulary`).")
        self.update_documents(self._documents(data))

    def update_documents(self, documents: list) -> None:
        """Count a batch given as a list of documents (token lists)."""
        if self._counts is None:
            self.reset_state()
        assert self._counts is not None
        self._counts.update(documents, self.output_mode == "tf_idf")

    def _documents(self, data):
        """A batch as a list of documents (token lists): rows of a 2-D array, one
        document for a 1-D batch (Keras's `update_state`)."""
        array = self._checked(np.asarray(data, dtype=object if self.is_string else None),
                              tokens=True)
        if array.ndim <= 1:
            array = array.reshape(1, -1)
        return [[self._token(t) for t in row.reshape(-1).tolist()] for row in array]

    def finalize_state(self) -> None:
        counts = self._counts
        if self._has_input_vocabulary or counts is None:
            return
        if not counts.num_documents:
            raise InputSpecError(f"{self._owner()}.adapt: expected data with at least one "
                                 "token, received empty data.")
        limit = None if self.max_tokens is None else self.max_tokens - self._token_start()
        tokens = counts.ordered({self.mask_token, self.oov_token}, limit)
        self._tokens = tokens
        self._index = {t: i + self._token_start() for i, t in enumerate(tokens)}
        if self.output_mode == "tf_idf":
            idf = counts.idf(tokens)
            self.idf_weights = self._padded_idf(idf, len(idf), found_special=False)
        self._counts = None

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn the vocabulary from an array, a list, or an iterable of batches."""
        self.reset_state()
        if isinstance(data, (list, tuple, np.ndarray)) or hasattr(data, "__array__"):
            array = np.asarray(data, dtype=object if self.is_string else None)
            self.update_state(array.reshape(-1, 1) if array.ndim == 1 else array)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        self.finalize_state()

    # -- the call ----------------------------------------------------------------------
    def _checked(self, array, tokens=False):
        """`array` if it holds what the layer reads (`tokens`: vocabulary tokens, as
        `adapt` reads even with `invert=True`), else an `InputSpecError`."""
        kind = array.dtype.kind
        if self.invert and not tokens:
            ok, expected = kind in "iu", "integer indices (invert=True)"
        elif self.is_string:
            ok = kind in "US" or (kind == "O" and all(isinstance(t, (str, bytes))
                                                      for t in array.reshape(-1).tolist()))
            expected = "strings"
        else:
            ok = kind in "iu"
            expected = "integers"
        if not ok:
            raise InputSpecError(
                f"{self._owner()}: expected {expected}, received an array of dtype "
                f"{array.dtype.name} (shape {array.shape}).")
        return array

    def _depth(self) -> int:
        if self.pad_to_max_tokens and self.max_tokens is not None:
            return self.max_tokens
        if self._tokens is None:
            raise UsageError(MSG_NO_VOCABULARY.format(cls=type(self).__name__, name=self.name,
                                                      mode=self.output_mode))
        return self.vocabulary_size()

    def host_call(self, inputs: np.ndarray, **kwargs: Any) -> np.ndarray:
        array = self._checked(inputs)
        if self.invert:
            return self._inverted(array)
        lookups = self._lookup(array)
        if self.output_mode == "int":
            return lookups
        depth = self._depth()
        counts_mode = "count" if self.output_mode == "tf_idf" else str(self.output_mode)
        # Keras's dtypes: int64 counts and indicators, float32 for tf-idf
        dtype = np.float32 if self.output_mode == "tf_idf" else np.int64
        encoded = encode_categorical(lookups, counts_mode, depth, dtype=dtype, xp=np,
                                     name=self._owner())
        if self.output_mode == "tf_idf":
            assert self.idf_weights is not None
            encoded = encoded * self.idf_weights[:depth]
        return encoded

    def _lookup(self, array):
        return self.lookup_tokens([self._token(t) for t in array.reshape(-1).tolist()]
                                  ).reshape(array.shape)

    def lookup_tokens(self, flat: list) -> np.ndarray:
        """The indices of a flat list of tokens (int mode's mask index 0; -1, encoded as
        nothing, for the mask in the other modes)."""
        default = self._oov_start() if self.num_oov_indices == 1 else -1
        mask_value = 0 if self.output_mode == "int" else -1
        out = np.empty(len(flat), dtype=np.int64)
        for i, token in enumerate(flat):
            if self.mask_token is not None and token == self.mask_token:
                out[i] = mask_value
            elif token in self._index:
                out[i] = self._index[token]
            elif self.num_oov_indices > 1:
                out[i] = self._oov_start() + token % self.num_oov_indices
            elif self.num_oov_indices == 0:
                raise InputSpecError(
                    f"{self._owner()}: with num_oov_indices=0 every input must be in the "
                    f"vocabulary, received {token!r}. Set num_oov_indices=1.")
            else:
                out[i] = default
        return out

    def _inverted(self, array):
        vocab = self.get_vocabulary()
        flat = []
        for index in array.reshape(-1).tolist():
            if self.mask_token is not None and index == 0:
                flat.append(self.mask_token)
            elif self._token_start() <= index < len(vocab):
                flat.append(vocab[index])
            else:
                flat.append(self.oov_token)
        return np.array(flat, dtype=object if self.is_string else np.int64).reshape(
            array.shape)

    def host_output_spec(self, shape: tuple, dtype: str) -> tuple[tuple, str]:
        shape = tuple(shape)
        if self.invert:
            return shape, "string" if self.is_string else "int64"
        if self.output_mode == "int":
            return shape, "int64"
        depth = (self.max_tokens if self.pad_to_max_tokens
                 else None if self._tokens is None else self.vocabulary_size())
        dtype = "float32" if self.output_mode == "tf_idf" else "int64"
        if self.output_mode == "one_hot":
            base = shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape
            return base + (depth,), dtype
        return shape[:-1] + (depth,), dtype

    # -- saving ------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's config, with the whole vocabulary (special tokens first) and the idf
        weights as data, so a saved model needs no vocabulary file."""
        known = self._tokens is not None
        idf = (None if self.idf_weights is None
               else self.idf_weights[:self.vocabulary_size()].tolist())
        return {"name": self.name, "trainable": self.trainable, "invert": self.invert,
                "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
                "oov_token": self.oov_token, "mask_token": self.mask_token,
                "output_mode": self.output_mode, "sparse": self.sparse,
                "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary": self.get_vocabulary() if known else None,
                "idf_weights": idf,
                "vocabulary_size": self.vocabulary_size() if known else None}
