"""`pad_sequences`: a list of sequences of different lengths as one array (Keras's)."""
import numpy as np

from lamina.errors import ConfigurationError, InputSpecError


def _lengths_and_sample_shape(sequences):
    lengths, sample_shape = [], ()
    found = False
    for index, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError as err:
            raise InputSpecError(
                f"pad_sequences: expected a list of sequences, received item {index}: "
                f"{seq!r} (of type {type(seq).__name__}), which has no length.") from err
        if not found and len(seq):
            sample_shape, found = np.asarray(seq).shape[1:], True
    return lengths, sample_shape


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (or cut) every sequence to `maxlen` (default: the longest), giving an array of
    shape `(len(sequences), maxlen) + sample_shape` (`keras.utils.pad_sequences`).

    `padding` / `truncating` ("pre" or "post") say on which side values are added or removed;
    `value` fills the padding; `dtype="object"` (or a string dtype) holds strings.
    """
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ConfigurationError(
            f"pad_sequences: expected padding and truncating to be 'pre' or 'post', received "
            f"padding={padding!r}, truncating={truncating!r}.")
    if not hasattr(sequences, "__len__"):
        raise InputSpecError(
            f"pad_sequences: expected a list of sequences, received {type(sequences).__name__}.")
    lengths, sample_shape = _lengths_and_sample_shape(sequences)
    if maxlen is None:
        maxlen = int(np.max(lengths)) if lengths else 0
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ConfigurationError(
            f"pad_sequences: value {value!r} is a string but dtype is {dtype!r}; pass "
            "dtype=object for strings of any length.")
    out = np.full((len(sequences), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for index, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise InputSpecError(
                f"pad_sequences: sequence {index} has samples of shape {kept.shape[1:]}, "
                f"expected {sample_shape} (the shape of the first non-empty sequence's).")
        if padding == "post":
            out[index, :len(kept)] = kept
        else:
            out[index, -len(kept):] = kept
    return out
