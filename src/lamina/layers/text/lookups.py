"""`StringLookup` and `IntegerLookup`: Keras's lookup layers on the host index lookup."""
from typing import Any

from lamina.layers.text.index_lookup import IndexLookup


class StringLookup(IndexLookup):
    """Maps strings to integer indices (or back with `invert=True`), as Keras 3.

    Args (Keras's): max_tokens, num_oov_indices (0 or 1: more hashes with TensorFlow's
        farmhash, which lamina has not), mask_token, oov_token ("[UNK]"), vocabulary (a
        list or the path of a file, one token a line), idf_weights, invert, output_mode
        ("int", "one_hot", "multi_hot", "count", "tf_idf"), pad_to_max_tokens, sparse
        (False only), encoding ("utf-8").

    Runs on the host in numpy (`HostLayer`); inside a model it reads the model's inputs.
    """

    is_string = True

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: str | None = None, oov_token: str = "[UNK]",
                 vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", pad_to_max_tokens: bool = False,
                 sparse: bool = False, encoding: str = "utf-8", name: str | None = None,
                 **kwargs: Any) -> None:
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token,
                         vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, name=name, **kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), "encoding": self.encoding,
                "vocabulary_dtype": "string"}


class IntegerLookup(IndexLookup):
    """Maps integers to contiguous indices (or back with `invert=True`), as Keras 3.

    Args (Keras's): max_tokens, num_oov_indices (several: `value % num_oov_indices`, as
        Keras's "floormod"), mask_token (None), oov_token (-1), vocabulary, idf_weights,
        invert, output_mode, pad_to_max_tokens, sparse (False only), vocabulary_dtype
        ("int64").
    """

    is_string = False

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1,
                 mask_token: int | None = None, oov_token: int = -1,
                 output_mode: str = "int", pad_to_max_tokens: bool = False,
                 sparse: bool = False, vocabulary: Any = None,
                 vocabulary_dtype: str = "int64", idf_weights: Any = None,
                 invert: bool = False, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token,
                         vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, name=name, **kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocabulary_dtype": "int64"}
