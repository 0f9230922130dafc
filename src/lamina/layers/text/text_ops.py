"""The string steps of `TextVectorization` on numpy: standardize, split, n-grams, as
Keras 3 does them with `tf.strings` (ASCII lower-casing, Keras's punctuation regex,
whitespace or character split, n-grams joined by a space, shortest width first)."""
import re
from typing import Any

import numpy as np

# Keras's DEFAULT_STRIP_REGEX (keras/src/layers/preprocessing/text_vectorization.py)
STRIP_REGEX = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# tf.strings.split's separators: ASCII whitespace
_WHITESPACE = re.compile(r"[ \t\n\r\v\f]+")

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")


def as_text(array):
    """A numpy array of python `str` (bytes decoded as utf-8), same shape."""
    flat = [t.decode("utf-8") if isinstance(t, bytes) else t for t in array.reshape(-1).tolist()]
    return np.array(flat, dtype=object).reshape(array.shape)


def standardize(array, how):
    """`how`: one of `STANDARDIZE`, None, or a callable on the numpy array of strings."""
    if how is None:
        return array
    if callable(how):
        return as_text(np.asarray(how(np.asarray(array.tolist(), dtype=str))))
    out = []
    for text in array.reshape(-1).tolist():
        if how in ("lower_and_strip_punctuation", "lower"):
            text = text.translate(_ASCII_LOWER)
        if how in ("lower_and_strip_punctuation", "strip_punctuation"):
            text = STRIP_REGEX.sub("", text)
        out.append(text)
    return np.array(out, dtype=object).reshape(array.shape)


def split(texts, how):
    """A list of token lists, one per text of the 1-D `texts`. `how`: one of `SPLIT` or a
    callable taking the numpy array of strings and returning one token list per text."""
    if callable(how):
        found: Any = how(np.asarray(texts.tolist(), str))
        return [[str(t) for t in tokens] for tokens in found]
    if how == "character":
        return [list(text) for text in texts.tolist()]
    return [[t for t in _WHITESPACE.split(text) if t] for text in texts.tolist()]


def ngrams(tokens, widths):
    """The n-grams of each width in `widths` (in order), joined by a space (tf.strings.ngrams
    without padding: a document shorter than a width has none of that width)."""
    out = []
    for width in widths:
        out.extend(" ".join(tokens[i:i + width]) for i in range(len(tokens) - width + 1))
    return out
