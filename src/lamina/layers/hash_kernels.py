"""TensorFlow's string hashes in numpy, for `Hashing` and `HashedCrossing` without TensorFlow.

- `fingerprint64`: FarmHash's `Fingerprint64` (farmhashna `Hash64`), the hash of
  `tf.fingerprint` and `tf.strings.to_hash_bucket_fast`.
- `siphash24`: SipHash-2-4 with a 128-bit key given as two uint64 (highwayhash's
  `SipHash(key, ...)`), the hash of `tf.strings.to_hash_bucket_strong`.
- `cross_fingerprint`: `tf.sparse.cross_hashed`'s combination of one feature per column
  (`FingerprintCat64`, seeded with TensorFlow's default hash key).

Each kernel takes a flat list of byte strings and returns a uint64 array. Strings are hashed
in groups (of one byte length for FarmHash, of one word count for SipHash): their bytes form
an `(n, length)` matrix whose 8-byte words are read as little-endian uint64 columns, so the
arithmetic runs once per group, not once per string. uint64 array arithmetic wraps modulo
2**64, as C's does.
"""
from collections.abc import Callable, Sequence

import numpy as np

_U64 = np.uint64
_K0, _K1, _K2 = _U64(0xC3A5C85C97CB3127), _U64(0xB492B66FBE98F273), _U64(0x9AE16A3B2F90404F)
_KMUL = _U64(0xC6A4A7935BD1E995)
# tf.sparse.cross_hashed's `hash_key` when none is given (sparse_ops._DEFAULT_HASH_KEY)
CROSS_HASH_KEY = 0xDECAFCAFFE


def _rotr(value, shift):
    return (value >> _U64(shift)) | (value << _U64(64 - shift))


def _rotl(value, shift):
    return (value << _U64(shift)) | (value >> _U64(64 - shift))


def _shift_mix(value):
    return value ^ (value >> _U64(47))


def _hash_len16(u, v, mul):
    a = _shift_mix((u ^ v) * mul)
    b = _shift_mix((v ^ a) * mul)
    return b * mul


def _words(block: np.ndarray, width: int) -> Callable[[int], np.ndarray]:
    """`fetch(offset)`: the little-endian word of `width` bytes at `offset` of every row."""
    dtype = "<u8" if width == 8 else "<u4"

    def fetch(offset):
        part = np.ascontiguousarray(block[:, offset:offset + width])
        return part.view(dtype)[:, 0].astype(_U64)
    return fetch


def _farm_0_to_16(block, length):
    n = block.shape[0]
    if length >= 8:
        fetch = _words(block, 8)
        mul = _K2 + _U64(length * 2)
        a = fetch(0) + _K2
        b = fetch(length - 8)
        c = _rotr(b, 37) * mul + a
        d = (_rotr(a, 25) + b) * mul
        return _hash_len16(c, d, mul)
    if length >= 4:
        fetch = _words(block, 4)
        mul = _K2 + _U64(length * 2)
        return _hash_len16(_U64(length) + (fetch(0) << _U64(3)), fetch(length - 4), mul)
    if length > 0:
        a, b, c = (block[:, i].astype(_U64) for i in (0, length >> 1, length - 1))
        y = a + (b << _U64(8))
        z = _U64(length) + (c << _U64(2))
        return _shift_mix(y * _K2 ^ z * _K0) * _K2
    return np.full(n, _K2, _U64)


def _farm_17_to_32(block, length):
    fetch = _words(block, 8)
    mul = _K2 + _U64(length * 2)
    a = fetch(0) * _K1
    b = fetch(8)
    c = fetch(length - 8) * mul
    d = fetch(length - 16) * _K2
    return _hash_len16(_rotr(a + b, 43) + _rotr(c, 30) + d, a + _rotr(b + _K2, 18) + c, mul)


def _farm_33_to_64(block, length):
    fetch = _words(block, 8)
    mul = _K2 + _U64(length * 2)
    a = fetch(0) * _K2
    b = fetch(8)
    c = fetch(length - 8) * mul
    d = fetch(length - 16) * _K2
    y = _rotr(a + b, 43) + _rotr(c, 30) + d
    z = _hash_len16(y, a + _rotr(b + _K2, 18) + c, mul)
    e = fetch(16) * mul
    f = fetch(24)
    g = (y + fetch(length - 32)) * mul
    h = (z + fetch(length - 24)) * mul
    return _hash_len16(_rotr(e + f, 43) + _rotr(g, 30) + h, e + _rotr(f + a, 18) + g, mul)


def _weak_32(fetch, offset, a, b):
    """farmhash's WeakHashLen32WithSeeds over the 32 bytes at `offset`, seeds `a`, `b`."""
    w, x, y, z = (fetch(offset + 8 * i) for i in range(4))
    a = a + w
    b = _rotr(b + a + z, 21)
    c = a
    a = a + x + y
    b = b + _rotr(a, 44)
    return a + z, b + c


def _farm_over_64(block, length):
    """farmhashna's loop over 64-byte chunks, then the last 64 bytes."""
    fetch, n = _words(block, 8), block.shape[0]
    x = np.full(n, 81, _U64)
    y = x * _K1 + _U64(113)
    z = _shift_mix(y * _K2 + _U64(113)) * _K2
    v = w = (np.zeros(n, _U64), np.zeros(n, _U64))
    x = x * _K2 + fetch(0)
    for s in range(0, ((length - 1) // 64) * 64, 64):
        x = _rotr(x + y + v[0] + fetch(s + 8), 37) * _K1
        y = _rotr(y + v[1] + fetch(s + 48), 42) * _K1
        x = x ^ w[1]
        y = y + v[0] + fetch(s + 40)
        z = _rotr(z + w[0], 33) * _K1
        v = _weak_32(fetch, s, v[1] * _K1, x + w[0])
        w = _weak_32(fetch, s + 32, z + w[1], y + fetch(s + 16))
        z, x = x, z
    mul = _K1 + ((z & _U64(0xFF)) << _U64(1))
    s = length - 64
    w0 = w[0] + _U64((length - 1) & 63)
    v0 = v[0] + w0
    w = (w0 + v0, w[1])
    v = (v0, v[1])
    x = _rotr(x + y + v[0] + fetch(s + 8), 37) * mul
    y = _rotr(y + v[1] + fetch(s + 48), 42) * mul
    x = x ^ (w[1] * _U64(9))
    y = y + v[0] * _U64(9) + fetch(s + 40)
    z = _rotr(z + w[0], 33) * mul
    v = _weak_32(fetch, s, v[1] * mul, x + w[0])
    w = _weak_32(fetch, s + 32, z + w[1], y + fetch(s + 16))
    z, x = x, z
    return _hash_len16(_hash_len16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z,
                       _hash_len16(v[1], w[1], mul) + x, mul)


def _fingerprint_block(block, length):
    if length <= 16:
        return _farm_0_to_16(block, length)
    if length <= 32:
        return _farm_17_to_32(block, length)
    if length <= 64:
        return _farm_33_to_64(block, length)
    return _farm_over_64(block, length)


def _sip_rounds(v, count):
    v0, v1, v2, v3 = v
    for _ in range(count):
        v0 = v0 + v1
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = v2 + v3
        v3 = _rotl(v3, 16) ^ v2
        v0 = v0 + v3
        v3 = _rotl(v3, 21) ^ v0
        v2 = v2 + v1
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def _siphash_words(words, key):
    """SipHash-2-4 of rows of little-endian words, the last word holding the length byte."""
    n = words.shape[0]
    k0, k1 = (np.full(n, _U64(k), _U64) for k in key)
    v = (k0 ^ _U64(0x736F6D6570736575), k1 ^ _U64(0x646F72616E646F6D),
         k0 ^ _U64(0x6C7967656E657261), k1 ^ _U64(0x7465646279746573))
    for i in range(words.shape[1]):
        m = words[:, i]
        v = _sip_rounds((v[0], v[1], v[2], v[3] ^ m), 2)
        v = (v[0] ^ m, v[1], v[2], v[3])
    v = _sip_rounds((v[0], v[1], v[2] ^ _U64(0xFF), v[3]), 4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def _by_length(strings: Sequence[bytes], kernel) -> np.ndarray:
    """Apply `kernel(block, length)` to each group of same-length strings, in place order."""
    out = np.empty(len(strings), _U64)
    lengths = np.fromiter((len(s) for s in strings), np.int64, count=len(strings))
    for length in np.unique(lengths).tolist():
        where = np.flatnonzero(lengths == length)
        joined = b"".join(strings[i] for i in where.tolist())
        block = np.frombuffer(joined, np.uint8).reshape(len(where), length)
        out[where] = kernel(block, length)
    return out


def fingerprint64(strings: Sequence[bytes]) -> np.ndarray:
    """FarmHash Fingerprint64 of each byte string, as a uint64 array."""
    return _by_length(strings, _fingerprint_block)


def siphash24(strings: Sequence[bytes], key: Sequence[int]) -> np.ndarray:
    """SipHash-2-4 of each byte string under the key `(k0, k1)` (two uint64), as uint64.

    Strings are grouped by their number of 8-byte words (`length // 8 + 1`, the last word
    holding the remaining bytes and, in its top byte, the length modulo 256), so one group
    covers eight lengths.
    """
    key = tuple(int(k) % (1 << 64) for k in key)
    out = np.empty(len(strings), _U64)
    lengths = np.fromiter((len(s) for s in strings), np.int64, count=len(strings))
    counts = lengths // 8 + 1
    for count in np.unique(counts).tolist():
        where = np.flatnonzero(counts == count)
        joined = b"".join(strings[i].ljust(8 * count, b"\0") for i in where.tolist())
        block = np.frombuffer(joined, np.uint8).reshape(len(where), 8 * count).copy()
        block[:, -1] = lengths[where] & 0xFF
        out[where] = _siphash_words(block.view("<u8").astype(_U64), key)
    return out


def fingerprint_cat64(fp1: np.ndarray, fp2: np.ndarray) -> np.ndarray:
    """TensorFlow's FingerprintCat64: combine two uint64 fingerprints (arrays) into one."""
    result = fp1 ^ _KMUL
    result = result ^ (_shift_mix(fp2 * _KMUL) * _KMUL)
    result = result * _KMUL
    return _shift_mix(_shift_mix(result) * _KMUL)


def cross_fingerprint(columns: Sequence[np.ndarray], hash_key: int = CROSS_HASH_KEY) -> np.ndarray:
    """`tf.sparse.cross_hashed`'s hash of one feature per column (before the modulo).

    Each column is a uint64 array: a string feature's `fingerprint64`, an integer feature's
    int64 value reinterpreted as uint64 (TensorFlow does not hash integers in a cross).
    """
    result = np.full(np.shape(columns[0]), _U64(hash_key), _U64)
    for column in columns:
        result = fingerprint_cat64(result, column)
    return result
