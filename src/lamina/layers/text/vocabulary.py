"""Pure vocabulary arithmetic of Keras's lookup layers, on numpy: token counting, the
order `adapt` gives (frequency, ties by token from high to low), inverse document
frequencies, and the reading of a vocabulary file."""
import os

import numpy as np

from lamina.errors import ConfigurationError, InputSpecError


class TokenCounts:
    """What `adapt` accumulates over batches: token counts, and for tf-idf the number of
    documents each token occurs in and the number of documents."""

    def __init__(self):
        self.counts: dict = {}
        self.document_counts: dict = {}
        self.num_documents = 0

    def update(self, documents, by_document):
        """Count the tokens of `documents` (a list of token lists). `by_document`: also
        count, per token, the documents holding it (tf-idf)."""
        for document in documents:
            for token in document:
                self.counts[token] = self.counts.get(token, 0) + 1
            if by_document:
                for token in set(document):
                    self.document_counts[token] = self.document_counts.get(token, 0) + 1
        self.num_documents += len(documents)

    def ordered(self, exclude, limit):
        """The tokens by decreasing count, ties by decreasing token (Keras's `np.lexsort`
        over (token, count) reversed), without `exclude`, at most `limit` (None: all)."""
        tokens = [t for t in self.counts if t not in exclude]
        tokens.sort(key=lambda t: (self.counts[t], _sort_key(t)), reverse=True)
        return tokens if limit is None else tokens[:limit]

    def idf(self, tokens):
        """Keras's inverse document frequency, `log(1 + documents / (1 + df))`."""
        df = np.array([self.document_counts.get(t, 0) for t in tokens], dtype=np.float64)
        return np.log(1.0 + self.num_documents / (1.0 + df)).astype(np.float32)


def _sort_key(token):
    # TensorFlow compares string tokens as utf-8 bytes
    return token.encode("utf-8") if isinstance(token, str) else token


def read_vocabulary_file(path, is_string, owner):
    """The lines of a vocabulary file (one token a line; trailing empty lines dropped)."""
    if not os.path.isfile(path):
        raise ConfigurationError(
            f"{owner}: expected `vocabulary` to be a list of tokens or the path of a text "
            f"file with one token a line, received the path {path!r}, which is not a file.")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    while lines and lines[-1] == "":
        lines.pop()
    if is_string:
        return lines
    try:
        return [int(line) for line in lines]
    except ValueError as err:
        raise InputSpecError(f"{owner}: vocabulary file {path!r}: expected one integer a "
                             f"line, received {err}.") from None


def repeated(tokens):
    seen, again = set(), []
    for token in tokens:
        if token in seen and token not in again:
            again.append(token)
        seen.add(token)
    return again
