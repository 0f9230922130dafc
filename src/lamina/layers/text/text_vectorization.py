"""`TextVectorization`: Keras 3's text layer, on the host (standardize, split, n-grams,
then a `StringLookup` with mask token "")."""
from typing import Any

import numpy as np

from lamina.core import registry
from lamina.errors import ConfigurationError, InputSpecError, NotSupportedError
from lamina.layers.host_layer import HostLayer
from lamina.layers.text import text_ops
from lamina.layers.text.lookups import StringLookup

_MODES = ("int", "multi_hot", "count", "tf_idf")


def _function_config(value, what, owner):
    """A standardize / split argument as config data: its name, or a registered function."""
    if value is None or isinstance(value, str):
        return value
    name = registry.function_name(value)
    if name is None:
        raise ConfigurationError(
            f"{owner}: cannot save the `{what}` callable {value!r}: lamina saves data, not "
            "code. Register it with `lamina.saving.register_function(fn)` so the file can "
            "name it.")
    return {"registered_function": name}


def _function_from_config(value):
    if isinstance(value, dict):
        return registry.get_function(value["registered_function"])
    return value


class TextVectorization(HostLayer):
    """Turns raw strings into token indices or token counts, as Keras 3.

    Args (Keras's): max_tokens, standardize ("lower_and_strip_punctuation", "lower",
        "strip_punctuation", None, or a callable on a numpy array of strings), split
        ("whitespace", "character", None, or a callable returning one token list per
        string), ngrams (None, an int, or a tuple of ints), output_mode ("int",
        "multi_hot", "count", "tf_idf"), output_sequence_length (int mode: pad with 0 or
        truncate to it), pad_to_max_tokens, vocabulary, idf_weights, sparse and ragged
        (False only), encoding.

    Runs on the host in numpy (`HostLayer`, docs/preprocessing.md): inside a model it reads
    the model's string input and the model applies it to each batch before the compiled
    step. Inputs: strings of shape (batch,) or (batch, 1).
    """

    def __init__(self, max_tokens: int | None = None,
                 standardize: Any = "lower_and_strip_punctuation", split: Any = "whitespace",
                 ngrams: Any = None, output_mode: str = "int",
                 output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: Any = None, idf_weights: Any = None, sparse: bool = False,
                 ragged: bool = False, encoding: str = "utf-8", name: str | None = None,
                 **kwargs: Any) -> None:
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        self.standardize, self.split, self.ngrams = standardize, split, ngrams
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.encoding, self.sparse, self.ragged = encoding, sparse, ragged
        self._check_arguments()
        self._widths = (tuple(range(1, ngrams + 1)) if isinstance(ngrams, int)
                        else tuple(ngrams) if ngrams is not None else None)
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            encoding=encoding, vocabulary_size=vocabulary_size, name=f"{self.name}_lookup")
        self.built = True

    def _check_arguments(self):
        owner = f"TextVectorization '{self.name}'"
        problems = [
            (not (self.standardize is None or callable(self.standardize)
                  or self.standardize in text_ops.STANDARDIZE),
             f"`standardize` in {text_ops.STANDARDIZE}, None or a callable, received "
             f"{self.standardize!r}"),
            (not (self.split is None or callable(self.split) or self.split in text_ops.SPLIT),
             f"`split` in {text_ops.SPLIT}, None or a callable, received {self.split!r}"),
            (self.output_mode not in _MODES,
             f"`output_mode` in {_MODES}, received {self.output_mode!r}"),
            (not (self.ngrams is None or isinstance(self.ngrams, int) or (
                isinstance(self.ngrams, tuple) and all(isinstance(n, int) for n in self.ngrams))),
             f"`ngrams` None, an int or a tuple of ints, received {self.ngrams!r}"),
            (self.output_sequence_length is not None and (
                self.output_mode != "int" or not isinstance(self.output_sequence_length, int)),
             "`output_sequence_length` (an int) only with output_mode='int', received "
             f"{self.output_sequence_length!r} with output_mode={self.output_mode!r}"),
        ]
        for failed, message in problems:
            if failed:
                raise ConfigurationError(f"{owner}: expected {message}.")
        if self.sparse or self.ragged:
            raise NotSupportedError(
                f"{owner}: `sparse=True` and `ragged=True` need TensorFlow tensors (Keras "
                "supports them only on its TensorFlow backend); use the defaults (False).")

    @property
    def max_tokens(self) -> int | None:
        return self._lookup_layer.max_tokens

    @property
    def pad_to_max_tokens(self) -> bool:
        return self._lookup_layer.pad_to_max_tokens

    # -- the vocabulary --------------------------------------------------------------
    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)
        self._lookup_layer._has_input_vocabulary = True

    @property
    def idf_weights(self) -> np.ndarray | None:
        return self._lookup_layer.idf_weights

    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary (and for tf_idf the idf weights) from a numpy array or a
        list of strings, or an iterable of batches (a generator, a tf.data.Dataset)."""
        lookup = self._lookup_layer
        lookup.reset_state()
        if isinstance(data, (list, tuple, np.ndarray, str, bytes)) or hasattr(data, "__array__"):
            batches = [np.asarray(data, dtype=object).reshape(-1)]
        else:
            batches = (batch for i, batch in enumerate(data) if steps is None or i < steps)
        for batch in batches:
            lookup.update_documents(self._documents(batch))
        if lookup._counts is None or not lookup._counts.num_documents:
            raise InputSpecError(
                f"TextVectorization '{self.name}'.adapt: expected strings to learn a "
                "vocabulary from, received empty data.")
        lookup.finalize_state()

    # -- the call ----------------------------------------------------------------------
    def _texts(self, inputs):
        array = np.asarray(inputs, dtype=object) if not isinstance(inputs, np.ndarray) else inputs
        flat = array.reshape(-1).tolist()
        if array.dtype.kind not in "USO" or not all(isinstance(t, (str, bytes)) for t in flat):
            raise InputSpecError(
                f"TextVectorization '{self.name}': expected strings (a numpy array of str or "
                f"bytes, or a list of str), received an array of dtype {array.dtype.name} "
                f"(shape {array.shape}). Give the raw text; numbers are not text.")
        if array.ndim > 1:
            if array.shape[-1] != 1:
                raise InputSpecError(
                    f"TextVectorization '{self.name}': expected strings of shape (batch,) or "
                    f"(batch, 1), received shape {array.shape}.")
            array = array.reshape(array.shape[:-1])
        return text_ops.standardize(text_ops.as_text(array.reshape(-1)), self.standardize)

    def _documents(self, inputs):
        texts = self._texts(inputs)
        if self.split is None:
            documents = [[t] for t in texts.tolist()]
        else:
            documents = text_ops.split(texts, self.split)
        if self._widths is not None:
            documents = [text_ops.ngrams(tokens, self._widths) for tokens in documents]
        return documents

    def host_call(self, inputs: np.ndarray, **kwargs: Any) -> np.ndarray:
        documents = self._documents(inputs)
        lookup = self._lookup_layer
        indices = [lookup.lookup_tokens(tokens) for tokens in documents]
        if self.output_mode == "int":
            length: int = (self.output_sequence_length
                           if self.output_sequence_length is not None
                           else max((len(i) for i in indices), default=0))
            out = np.zeros((len(indices), length), dtype=np.int64)
            for row, found in zip(out, indices, strict=True):
                row[:min(length, len(found))] = found[:length]
            return out
        depth = lookup._depth()
        counts = np.zeros((len(indices), depth), dtype=np.int64)
        for row, found in zip(counts, indices, strict=True):
            np.add.at(row, found[(found >= 0) & (found < depth)], 1)
        if self.output_mode == "multi_hot":
            return (counts > 0).astype(np.int64)
        if self.output_mode == "tf_idf":
            assert lookup.idf_weights is not None
            return counts.astype(np.float32) * lookup.idf_weights[:depth]
        return counts  # Keras's dtypes: int64 counts and indicators, float32 for tf-idf

    def host_output_spec(self, shape: tuple, dtype: str) -> tuple[tuple, str]:
        batch = tuple(shape)[:1] or (None,)
        if self.output_mode == "int":
            return batch + (self.output_sequence_length,), "int64"
        depth = (self.max_tokens if self.pad_to_max_tokens
                 else self.vocabulary_size() if self._lookup_layer._tokens is not None
                 else None)
        return batch + (depth,), "float32" if self.output_mode == "tf_idf" else "int64"

    # -- saving ------------------------------------------------------------------------
    def get_config(self) -> dict:
        owner = f"TextVectorization '{self.name}'"
        lookup = self._lookup_layer.get_config()
        return {"name": self.name, "trainable": self.trainable,
                "max_tokens": self.max_tokens,
                "standardize": _function_config(self.standardize, "standardize", owner),
                "split": _function_config(self.split, "split", owner),
                "ngrams": self.ngrams, "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": self.sparse,
                "ragged": self.ragged, "encoding": self.encoding,
                "vocabulary": lookup["vocabulary"], "idf_weights": lookup["idf_weights"],
                "vocabulary_size": lookup["vocabulary_size"]}

    @classmethod
    def from_config(cls, config: dict) -> "TextVectorization":
        config = dict(config)
        config["standardize"] = _function_from_config(config.get("standardize"))
        config["split"] = _function_from_config(config.get("split"))
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)
