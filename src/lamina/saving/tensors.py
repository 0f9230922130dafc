"""Tensors <-> safetensors bytes. Written with the safetensors library, read strictly.

The reader parses the header itself before touching any data: the header length is
bounded, every dtype is on an allow-list, every declared shape times its item size must
equal its byte range, ranges must tile the data exactly, and nothing may point past the
end. Only then are arrays copied out, so no allocation exceeds the bytes in the file.
"""
import json
import math
import struct

import numpy as np
from safetensors.numpy import save as _save

from lamina.errors import SavingError

MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_RANK = 32  # numpy allows 64 dimensions; no lamina weight comes close
MAX_DIM = 2**40  # bounds zero-size tensors too, whose byte count cannot
DTYPES = {
    "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
    "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64,
    "BOOL": np.bool_,
}


def encode(arrays):
    """safetensors bytes of `arrays` (name -> numpy array)."""
    return _save({name: np.array(a, order="C") for name, a in arrays.items()})


def decode(data, where):
    """name -> numpy array from safetensors bytes; `where` names the file and member."""
    def fail(what):
        raise SavingError(f"{where}: {what}")

    if len(data) < 8:
        fail("too short to be a safetensors file.")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(MAX_HEADER_BYTES, len(data) - 8):
        fail(f"declares a header of {header_len:,} bytes; the member holds {len(data):,}.")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:  # ValueError: also
        fail(f"header is not valid JSON ({err}).")  # integers over Python's 4,300 digits
    if not isinstance(header, dict):
        fail("header is not a JSON object.")
    header.pop("__metadata__", None)
    body = memoryview(data)[8 + header_len:]
    spans, arrays = [], {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            fail(f"tensor {name!r} has a malformed entry.")
        dtype = DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
        if dtype is None:
            fail(f"tensor {name!r} has dtype {entry['dtype']!r}, not one of {sorted(DTYPES)}.")
        shape, offsets = entry["shape"], entry["data_offsets"]
        if (not isinstance(shape, list) or len(shape) > MAX_RANK
                or not all(type(d) is int and 0 <= d <= MAX_DIM for d in shape)
                or math.prod(d for d in shape if d) > MAX_DIM
                or not isinstance(offsets, list) or len(offsets) != 2
                or not all(type(o) is int for o in offsets)):
            fail(f"tensor {name!r} has a malformed shape or data_offsets.")
        start, end = offsets
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if not 0 <= start <= end <= len(body) or end - start != nbytes:
            fail(f"tensor {name!r} declares shape {shape} ({nbytes:,} bytes) at offsets "
                 f"{offsets}, which the {len(body):,} data bytes do not hold.")
        spans.append((start, end))
        arrays[name] = (dtype, shape, start)
    position = 0
    for start, end in sorted(spans):
        if start != position:
            fail("tensor data ranges overlap or leave gaps.")
        position = end
    if position != len(body):
        fail("tensor data does not cover the member exactly.")
    return {name: np.frombuffer(body, dtype, math.prod(shape), start).reshape(shape).copy()
            for name, (dtype, shape, start) in arrays.items()}


def total_bytes(data):
    """Bytes of tensor data in a safetensors member (after `decode` checked it)."""
    (header_len,) = struct.unpack("<Q", data[:8])
    return len(data) - 8 - header_len
