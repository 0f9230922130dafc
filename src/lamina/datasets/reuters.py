"""Reuters newswires (`keras.datasets.reuters`): 11,228 newswires as word-index lists,
labelled with 46 topics."""
import json

import numpy as np

from lamina.datasets import files, sequences

ORIGIN = files.ORIGIN_FOLDER + "reuters.npz"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"  # sha256
WORD_INDEX_ORIGIN = files.ORIGIN_FOLDER + "reuters_word_index.json"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"  # md5: Keras publishes no sha256

LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """`(x_train, y_train), (x_test, y_test)` with the options of `imdb.load_data`; the
    last `test_split` of the shuffled newswires is the test set."""
    path = files.fetch(path, "reuters.npz", ORIGIN, FILE_HASH)
    xs, labels = files.members(files.load_npz(path), ["x", "y"], path)
    indices = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(indices)
    xs, labels = xs[indices], labels[indices]
    xs = sequences.shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = sequences.remove_long_seq(maxlen, xs, labels)
    xs = sequences.limit_vocabulary(xs, num_words, skip_top, oov_char)
    cut = int(len(xs) * (1 - test_split))
    return ((sequences.as_object_array(xs[:cut]), np.array(labels[:cut])),
            (sequences.as_object_array(xs[cut:]), np.array(labels[cut:])))


def get_word_index(path="reuters_word_index.json"):
    """word -> index (before the `index_from` shift of `load_data`)."""
    path = files.fetch(path, "reuters_word_index.json", WORD_INDEX_ORIGIN, WORD_INDEX_HASH)
    with open(path) as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, indexed like the labels."""
    return LABEL_NAMES
