"""The archive: a zip of named members, written atomically and read strictly.

Writing: the archive is built in a temporary file in the target's directory, flushed and
fsynced, then renamed over the target, and the directory is fsynced, so a crash leaves
either the old file or the new one, never a partial file at the target path.

Reading: only plain, stored (uncompressed) members with expected names are accepted; sizes
are bounded and checked against the bytes on disk, and every member's SHA-256 must match
`metadata.json`. Anything else is a `SavingError` naming the file and the member.
"""
import contextlib
import hashlib
import json
import os
import stat
import zipfile

from lamina.core import allocation
from lamina.core.files import atomic_write
from lamina.errors import LaminaError, NotARegularFileError, SavingError
from lamina.version import __version__

FORMAT = "lamina"
FORMAT_VERSION = 1
METADATA = "metadata.json"
MAX_JSON_BYTES = 64 * 1024 * 1024


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def write(path, members, extra_metadata=None):
    """Write `members` (name -> bytes) plus a metadata member to `path`, atomically."""
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "lamina_version": __version__,
        "members": {name: {"sha256": sha256(data), "size": len(data)}
                    for name, data in members.items()},
        **(extra_metadata or {}),
    }

    def fill(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA, json.dumps(metadata, indent=1))
            for name, data in members.items():
                zf.writestr(name, data)

    atomic_write(path, fill)


def write_bytes(path, data):
    """Write `data` to `path` atomically."""
    atomic_write(path, lambda f: f.write(data))


def open_regular(path):
    """The regular file at `path` opened for reading (no FIFOs, devices or directories);
    a file larger than the load limit (`core/allocation.py`) is refused from its size."""
    path = os.fspath(path)
    try:
        f = open(path, "rb", opener=_open_regular)  # noqa: SIM115 (returned open)
    except (OSError, ValueError) as err:
        raise SavingError(f"Cannot read '{path}': {getattr(err, 'strerror', None) or err}.") \
            from err
    try:
        allocation.check_file_size(path, os.fstat(f.fileno()).st_size)
    except BaseException:
        f.close()
        raise
    return f


def read_bytes(path):
    """The bytes of the regular file at `path` (see `open_regular`)."""
    path = os.fspath(path)
    with open_regular(path) as f:
        try:
            size = os.fstat(f.fileno()).st_size
            data = f.read(size + 1)
        except (OSError, ValueError) as err:
            raise SavingError(f"Cannot read '{path}': "
                              f"{getattr(err, 'strerror', None) or err}.") from err
    if len(data) != size:
        raise SavingError(f"Cannot read '{path}': the file changed while it was read.")
    return data


def _open_regular(path, flags):
    fd = os.open(path, flags | os.O_NONBLOCK)  # a FIFO must not block the open
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotARegularFileError(f"'{path}' is not a regular file")
    return fd


def _check_name(path, info, seen):
    name = info.filename
    if (not name or name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/")
            or ":" in name or name.endswith("/") or "\x00" in name):
        raise SavingError(f"'{path}': member name {name!r} is not allowed (absolute, "
                          "traversing, a directory or otherwise unsafe).")
    if name in seen:
        raise SavingError(f"'{path}': member {name!r} appears twice.")
    seen.add(name)
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type not in (0, stat.S_IFREG):
        raise SavingError(f"'{path}': member {name!r} is not a plain file (a link or "
                          "a special file).")
    if info.compress_type != zipfile.ZIP_STORED:
        raise SavingError(f"'{path}': member {name!r} is compressed; lamina archives "
                          "store members uncompressed (no decompression bombs).")
    if info.flag_bits & 0x1:
        raise SavingError(f"'{path}': member {name!r} is encrypted.")


def read(path, allowed, max_member_bytes):
    """Members of the archive at `path` (name -> bytes), checked strictly.

    Args:
        allowed: member names that may appear (besides metadata.json); others are refused.
        max_member_bytes: name -> largest accepted size.
    Returns:
        (metadata dict, members dict).
    """
    path = os.fspath(path)
    with open_regular(path) as f:
        # the zip's directory is read from the end of the file and checked before any
        # member is read: a large file that is not a valid archive is never read whole
        file_size = os.fstat(f.fileno()).st_size
        try:
            zf = zipfile.ZipFile(f)
            infos = zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError,
                NotImplementedError, OSError) as err:
            raise SavingError(f"'{path}' is not a lamina archive (not a valid zip file: "
                              f"{err}).") from err
        return _read_checked(path, zf, infos, allowed, max_member_bytes, file_size)


def _read_checked(path, zf, infos, allowed, max_member_bytes, file_size):
    seen = set()
    for info in infos:
        _check_name(path, info, seen)
        if info.filename != METADATA and info.filename not in allowed:
            raise SavingError(f"'{path}': unexpected member {info.filename!r}; a lamina "
                              f"archive holds only {sorted(allowed | {METADATA})}.")
        limit = max_member_bytes.get(info.filename, MAX_JSON_BYTES)
        if info.file_size > limit or info.file_size > file_size:
            raise SavingError(f"'{path}': member {info.filename!r} declares {info.file_size:,} "
                              f"bytes, more than allowed ({min(limit, file_size):,}).")
    if METADATA not in seen:
        raise SavingError(f"'{path}' is not a lamina archive: it has no {METADATA} "
                          "(a Keras .keras file is loaded by lamina.models.load_model).")
    members = {}
    for info in infos:
        try:
            members[info.filename] = zf.read(info)
        except (zipfile.BadZipFile, ValueError, EOFError, OSError, RuntimeError) as err:
            raise SavingError(f"'{path}': member {info.filename!r} cannot be read: {err}.") \
                from err
    metadata = parse_json(path, METADATA, members.pop(METADATA))
    _check_metadata(path, metadata, members)
    return metadata, members


def _check_metadata(path, metadata, members):
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise SavingError(f"'{path}': {METADATA} does not describe a lamina archive.")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise SavingError(f"'{path}': format version {metadata.get('format_version')!r} is "
                          f"not supported (this lamina reads version {FORMAT_VERSION}).")
    declared = metadata.get("members")
    if not isinstance(declared, dict) or set(declared) != set(members):
        raise SavingError(f"'{path}': {METADATA} lists members {sorted(declared or {})}, the "
                          f"archive holds {sorted(members)}.")
    for name, data in members.items():
        entry = declared[name]
        if not isinstance(entry, dict) or entry.get("sha256") != sha256(data):
            raise SavingError(f"'{path}': member {name!r} is damaged (its checksum does not "
                              "match metadata.json).")


def parse_json(path, name, data):
    if len(data) > MAX_JSON_BYTES:
        raise SavingError(f"'{path}': member {name!r} is too large for a config.")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        # ValueError: JSON errors, and integers longer than Python's 4,300-digit limit
        raise SavingError(f"'{path}': member {name!r} is not valid JSON: {err}.") from err


_FILE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError, ArithmeticError, OSError)


@contextlib.contextmanager
def naming_file(path):
    """Every error raised while loading from `path` names the file: a lamina error that
    does not is raised again, same class, with the path in front; a Python error a damaged
    file can cause deep in a constructor becomes a `SavingError` naming the file."""
    path = os.fspath(path)
    try:
        yield
    except LaminaError as err:
        if path not in str(err):
            err.args = (f"'{path}': {err}", *err.args[1:])  # same class and traceback
        raise
    except _FILE_ERRORS as err:
        raise SavingError(f"'{path}': cannot load this file ({type(err).__name__}: "
                          f"{err}).") from err

