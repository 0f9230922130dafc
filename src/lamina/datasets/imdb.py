"""IMDB movie reviews (`keras.datasets.imdb`): 25,000 + 25,000 reviews as word-index lists,
labelled by sentiment."""
import json

import numpy as np

from lamina.datasets import files, sequences

ORIGIN = files.ORIGIN_FOLDER + "imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # sha256
WORD_INDEX_ORIGIN = files.ORIGIN_FOLDER + "imdb_word_index.json"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # md5: Keras publishes no sha256


def _shuffle(rng, x, y):
    indices = np.arange(len(x))
    rng.shuffle(indices)
    return x[indices], y[indices]


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """`(x_train, y_train), (x_test, y_test)`: object arrays of word-index lists and integer
    labels, with Keras's options (keep the `num_words` most frequent words, skip the
    `skip_top` most frequent, drop sequences of `maxlen` or more words, mark the start with
    `start_char` and removed words with `oov_char`, shift indices by `index_from`)."""
    del kwargs  # Keras accepts and ignores legacy keywords here
    path = files.fetch(path, "imdb.npz", ORIGIN, FILE_HASH)
    x_train, y_train, x_test, y_test = files.members(
        files.load_npz(path), ["x_train", "y_train", "x_test", "y_test"], path)
    rng = np.random.RandomState(seed)
    x_train, y_train = _shuffle(rng, x_train, y_train)
    x_test, y_test = _shuffle(rng, x_test, y_test)
    x_train = sequences.shift(x_train, start_char, index_from)
    x_test = sequences.shift(x_test, start_char, index_from)
    if maxlen:
        x_train, y_train = sequences.remove_long_seq(maxlen, x_train, y_train)
        x_test, y_test = sequences.remove_long_seq(maxlen, x_test, y_test)
        sequences.check_kept(maxlen, x_train, x_test)
    labels = np.concatenate([y_train, y_test])
    xs = sequences.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    cut = len(x_train)
    return ((sequences.as_object_array(xs[:cut]), labels[:cut]),
            (sequences.as_object_array(xs[cut:]), labels[cut:]))


def get_word_index(path="imdb_word_index.json"):
    """word -> index (before the `index_from` shift of `load_data`)."""
    path = files.fetch(path, "imdb_word_index.json", WORD_INDEX_ORIGIN, WORD_INDEX_HASH)
    with open(path) as f:
        return json.load(f)
