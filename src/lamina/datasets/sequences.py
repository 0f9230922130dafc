"""The word-index sequence treatment shared by `imdb` and `reuters` (Keras's rules)."""
import numpy as np

from lamina.errors import ConfigurationError


def shift(xs, start_char, index_from):
    """Prefix `start_char` and add `index_from` to every word index."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    return [[w + index_from for w in x] for x in xs]


def remove_long_seq(maxlen, seqs, labels):
    """Only the sequences shorter than `maxlen`, with their labels."""
    kept = [(x, y) for x, y in zip(seqs, labels, strict=True) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_vocabulary(xs, num_words, skip_top, oov_char):
    """Words outside [skip_top, num_words) become `oov_char`, or are dropped when it is
    None; `num_words` None keeps every word."""
    if not num_words:
        num_words = max(max(x) for x in xs if x) if any(xs) else 0
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def check_kept(maxlen, *parts):
    if any(not part for part in parts):
        raise ConfigurationError(
            f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was "
            "kept. Increase maxlen.")


def as_object_array(seqs):
    """A 1-D object array of lists (numpy would make a 2-D array of equal-length lists)."""
    out = np.empty(len(seqs), dtype="object")
    out[:] = seqs
    return out
