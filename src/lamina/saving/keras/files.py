"""Reading a Keras 3 `.keras` file safely: its zip members and its HDF5 weights.

Zip members are read into memory by exact name under size limits (never extracted). The
HDF5 file is opened from memory and checked whole before anything is read from it:
external links, soft links, objects reachable by several hard links, external storage,
virtual datasets, compressed datasets, non-numeric datasets and datasets declaring more
bytes than the file holds are refused with a `SavingError` naming the file and the object.
"""
import contextlib
import io
import json
import math
import os
import zipfile
import zlib

import numpy as np

from lamina.core import allocation
from lamina.errors import SavingError

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"
METADATA = "metadata.json"
MAX_METADATA_BYTES = 1 << 20
_CHUNK = 1 << 20
MAX_CONFIG_BYTES = 64 * 1024 * 1024
MAX_H5_DEPTH = 64
# HDF5 filters that cannot expand data: shuffle and the fletcher32 checksum. Compression
# filters (deflate, szip, lzf, plugins) are refused: Keras writes none, and a compressed
# chunk can expand far beyond its declared size inside the filter.
_SAFE_FILTERS = {2: "shuffle", 3: "fletcher32"}
# what h5py raises on damaged files (OverflowError: sizes that do not fit a C integer)
_H5_ERRORS = (OSError, ValueError, TypeError, RuntimeError, KeyError, OverflowError)


# -- the zip archive ------------------------------------------------------------------------
def _read_archive(path, max_weights_bytes):
    """(config bytes, weights bytes), read by exact member name under size limits."""
    try:
        archive_size = os.path.getsize(path)
        allocation.check_file_size(path, archive_size)
        zf = zipfile.ZipFile(path)
    except OSError as err:
        raise SavingError(f"Cannot read '{path}': {err.strerror or err}.") from err
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError,
            NotImplementedError) as err:
        raise SavingError(f"'{path}' is not a Keras .keras file (not a valid zip file: "
                          f"{err}).") from err
    with zf:
        infos = {}
        for info in zf.infolist():
            if info.filename in (CONFIG, WEIGHTS) and info.filename in infos:
                raise SavingError(f"'{path}': member '{info.filename}' appears twice.")
            infos[info.filename] = info
        if CONFIG not in infos:
            raise SavingError(f"'{path}' is not a Keras .keras file: it has no {CONFIG}.")
        if WEIGHTS not in infos:
            sharded = any(name.endswith(".weights.json") for name in infos)
            raise SavingError(
                f"'{path}': no member '{WEIGHTS}'"
                + (" (its weights are sharded, which lamina does not import; save the "
                   "model without `max_shard_size`)." if sharded else ".")
            )
        config = _read_member(path, zf, infos[CONFIG], MAX_CONFIG_BYTES, archive_size)
        weights = _read_member(path, zf, infos[WEIGHTS], max_weights_bytes, archive_size)
    return config, weights


def _read_member(path, zf, info, limit, archive_size):
    """A member's bytes: stored or deflated (a re-zipped file), its declared size checked
    against `limit`, the load limit and the compression-ratio bound before anything is
    read, then read in chunks that stop at the declared size."""
    name = info.filename
    if info.flag_bits & 0x1:
        raise SavingError(f"'{path}': member '{name}' is encrypted.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise SavingError(f"'{path}': member '{name}' uses an unsupported compression "
                          f"method ({info.compress_type}); lamina reads stored and deflated "
                          "members.")
    if info.file_size > limit:
        raise SavingError(f"'{path}': member '{name}' declares {info.file_size:,} bytes, more "
                          f"than the {limit:,} accepted.")
    allocation.check(info.file_size, f"member '{name}'", f"'{path}'")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size > archive_size:
        raise SavingError(f"'{path}': member '{name}' declares {info.file_size:,} bytes, more "
                          f"than the file's {archive_size:,}.")
    ratio = info.file_size / max(info.compress_size, 1)
    if (info.file_size > allocation.MIN_RATIO_CHECK_BYTES
            and ratio > allocation.MAX_COMPRESSION_RATIO):
        raise SavingError(
            f"'{path}': member '{name}' declares {info.file_size:,} bytes compressed into "
            f"{info.compress_size:,} (ratio {ratio:,.0f}, more than the "
            f"{allocation.MAX_COMPRESSION_RATIO} accepted): a decompression bomb; refused "
            "before decompressing.")
    parts, total = [], 0
    try:
        with zf.open(info) as member:
            # the reader stops at the declared size and checks the CRC at the end
            while chunk := member.read(min(_CHUNK, info.file_size - total + 1)):
                total += len(chunk)
                if total > info.file_size:
                    break
                parts.append(chunk)
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError, RuntimeError,
            NotImplementedError) as err:
        raise SavingError(f"'{path}': member '{name}' cannot be read: {err}.") from err
    if total != info.file_size:
        raise SavingError(f"'{path}': member '{name}' holds {total:,} bytes or more; its "
                          f"header declares {info.file_size:,}.")
    return b"".join(parts)


def is_keras_file(file):
    """True for a zip (`file`: an open binary file) whose metadata.json names a Keras
    version and not lamina's format. Its metadata may be stored or deflated (a re-zipped
    file); it is read only when small, and nothing else is read."""
    try:
        with zipfile.ZipFile(file) as zf:
            info = zf.getinfo(METADATA)
            if (info.file_size > MAX_METADATA_BYTES or info.flag_bits & 0x1
                    or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)):
                return False
            with zf.open(info) as member:
                metadata = _json_loads(member.read(MAX_METADATA_BYTES + 1))
    except (KeyError, OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError,
            RuntimeError, zlib.error, RecursionError):
        return False  # the lamina reader reports the problem
    return (isinstance(metadata, dict) and "keras_version" in metadata
            and metadata.get("format") != "lamina")


def _json_loads(data):
    return json.loads(data.decode("utf-8"))


def _parse_json(path, data):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise SavingError(f"'{path}': member '{CONFIG}' is not valid JSON: {err}.") from err


# -- the HDF5 weights file ------------------------------------------------------------------
def _import_h5py(path):
    try:
        import h5py
    except ImportError as err:
        raise SavingError(
            f"Cannot import '{path}': reading Keras .keras files needs the optional "
            "dependency h5py (pip install h5py)."
        ) from err
    return h5py


class _WeightsFile:
    """The HDF5 member, opened from memory and checked whole before any data is read."""

    def __init__(self, path, data, member=WEIGHTS):
        self.path = path
        self.member = member  # the zip member holding the HDF5 file, None for a plain file
        self.size = len(data)
        self.h5py = _import_h5py(path)
        try:
            self.file = self.h5py.File(io.BytesIO(data), "r")
        except _H5_ERRORS as err:
            raise SavingError(f"{self.where()} is not a valid HDF5 file: {err}.") from err
        try:
            self.datasets = {}  # "layers/dense/vars/0" -> h5py.Dataset
            self.groups = {"": self.file}
            self._scan()
            self.total_bytes = sum(_declared_bytes(ds) for ds in self.datasets.values())
        except BaseException:
            self.close()
            raise

    def close(self):
        # closing a damaged file must not hide the error being raised
        with contextlib.suppress(*_H5_ERRORS):
            self.file.close()

    def where(self):
        return f"'{self.path}': member '{self.member}'" if self.member else f"'{self.path}'"

    def fail(self, obj_path, message):
        raise SavingError(f"{self.where()}: '/{obj_path}' {message}")

    def _scan(self):
        h5py = self.h5py
        stack = [("", self.file, 0)]
        while stack:
            group_path, group, depth = stack.pop()
            if depth > MAX_H5_DEPTH:
                self.fail(group_path, f"is nested more than {MAX_H5_DEPTH} groups deep.")
            try:
                names = list(group)
            except _H5_ERRORS as err:
                self.fail(group_path, f"cannot be listed: {err}.")
            for name in names:
                obj_path = f"{group_path}/{name}" if group_path else name
                try:
                    link = group.get(name, getlink=True)
                except _H5_ERRORS as err:
                    self.fail(obj_path, f"is a link lamina cannot read ({err}); refused.")
                if isinstance(link, h5py.ExternalLink):
                    self.fail(obj_path, f"is an external link to '{link.filename}:{link.path}'; "
                              "lamina refuses references outside the file.")
                if isinstance(link, h5py.SoftLink):
                    self.fail(obj_path, f"is a soft link to '{link.path}'; Keras writes none "
                              "and lamina refuses them.")
                if not isinstance(link, h5py.HardLink):
                    self.fail(obj_path, f"is a link of an unknown kind "
                              f"({type(link).__name__}); refused.")
                try:
                    obj = group.get(name)
                    links = h5py.h5o.get_info(obj.id).rc if obj is not None else None
                except _H5_ERRORS as err:
                    self.fail(obj_path, f"cannot be opened: {err}.")
                if obj is None:
                    self.fail(obj_path, "is listed but cannot be opened (a damaged file).")
                if links != 1:
                    self.fail(obj_path, f"is reachable through {links} hard links; Keras "
                              "writes every object once and lamina refuses aliases and cycles.")
                if isinstance(obj, h5py.Group):
                    self.groups[obj_path] = obj
                    stack.append((obj_path, obj, depth + 1))
                elif isinstance(obj, h5py.Dataset):
                    self._check_dataset(obj_path, obj)
                    self.datasets[obj_path] = obj
                # a committed datatype holds no data: nothing to read, nothing to check

    def _check_dataset(self, obj_path, ds):
        try:
            virtual = ds.is_virtual
            external = ds.external
            dtype = ds.dtype
            shape = ds.shape
            plist = ds.id.get_create_plist()
            filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        except _H5_ERRORS as err:
            self.fail(obj_path, f"is a dataset lamina cannot inspect: {err}.")
        if virtual:
            self.fail(obj_path, "is a virtual dataset (its data lives in other files); refused.")
        if external:
            files = ", ".join(repr(entry[0]) for entry in external)
            self.fail(obj_path, f"stores its data in external files ({files}); refused.")
        if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
            self.fail(obj_path, f"has the non-numeric dtype {dtype}; weights must be numbers.")
        if shape is None:
            self.fail(obj_path, "has no dataspace (an empty dataset); weights must be arrays.")
        for code in filters:
            if code not in _SAFE_FILTERS:
                self.fail(obj_path, f"is compressed or filtered (HDF5 filter {code}); Keras "
                          "writes uncompressed weights and lamina refuses filters that expand "
                          "data.")
        nbytes = _declared_bytes(ds)
        if nbytes > self.size:
            self.fail(obj_path, f"declares shape {shape} of {dtype} ({nbytes:,} bytes), more "
                      f"than the {self.size:,} bytes of the whole file; refused.")
        try:
            stored = ds.id.get_storage_size()
        except _H5_ERRORS as err:
            self.fail(obj_path, f"cannot be inspected: {err}.")
        if stored < nbytes:
            self.fail(obj_path, f"declares {nbytes:,} bytes ({shape} of {dtype}) but only "
                      f"{stored:,} were ever written; the rest would load as fill values "
                      "(zeros), not trained weights. Refused: the file is damaged or was "
                      "never completely written.")

    def read(self, obj_path):
        try:
            return np.asarray(self.datasets[obj_path][()])
        except _H5_ERRORS as err:
            self.fail(obj_path, f"cannot be read: {err}.")


def _declared_bytes(ds):
    return math.prod(int(d) for d in ds.shape) * ds.dtype.itemsize
