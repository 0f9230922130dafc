"""`get_file`: download a file once into lamina's cache, check its hash, optionally extract.

The cache is `$LAMINA_HOME` (default `~/.lamina`) / `cache_subdir`. A download streams
through a hash and a `Progbar` into `lamina.core.files.atomic_write`: an interrupted or
corrupt download never leaves a file under the target name, and a hash mismatch is a
`SavingError` that names the file, the origin and both hashes. A cached file whose hash no
longer matches is downloaded again (as Keras does). Archives are extracted into a temporary
folder and renamed into place; members that would land outside it are refused.
"""
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile

from lamina.core.files import atomic_write
from lamina.errors import ConfigurationError, SavingError
from lamina.utils.progbar import Progbar

CHUNK = 1 << 16


def lamina_home():
    """`$LAMINA_HOME`, or `~/.lamina`."""
    return os.path.expanduser(os.environ.get("LAMINA_HOME") or os.path.join("~", ".lamina"))


def resolve_hasher(algorithm, file_hash=None):
    """A hashlib object: "sha256", "md5", or "auto" (sha256 for a 64-character hash)."""
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None
                                 and len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5(usedforsecurity=False)
    raise ConfigurationError(
        f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', received {algorithm!r}.")


def hash_file(path, algorithm="sha256", file_hash=None):
    """The hex digest of the file at `path`."""
    hasher = resolve_hasher(algorithm, file_hash)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto"):
    """True when the file's hash equals `file_hash`."""
    return hash_file(fpath, algorithm, file_hash) == str(file_hash).lower()


def _download(origin, target, file_hash, algorithm):
    """Stream `origin` into `target` atomically, checking `file_hash` before the rename."""
    print(f"Downloading data from {origin}")
    try:
        response = urllib.request.urlopen(origin)
    except (OSError, ValueError) as err:
        raise SavingError(f"Cannot download '{os.path.basename(target)}' from {origin}: "
                          f"{err}. Check the address, or pass a local file.") from err

    def fill(out):
        hasher = resolve_hasher(algorithm, file_hash)
        size = response.headers.get("Content-Length")
        bar = Progbar(int(size) if size else None, unit_name="byte")
        done = 0
        for chunk in iter(lambda: response.read(CHUNK), b""):
            out.write(chunk)
            hasher.update(chunk)
            done += len(chunk)
            bar.update(done)
        if not size:
            bar.update(done, finalize=True)  # a known size finalises at its last chunk
        if file_hash is not None and hasher.hexdigest() != str(file_hash).lower():
            raise SavingError(
                f"The file '{target}' downloaded from {origin} is incomplete or corrupted: "
                f"its {hasher.name} hash is {hasher.hexdigest()}, expected {file_hash}. "
                "Nothing was written; try again, or check the origin.")

    with response:
        atomic_write(target, fill)


def _inside(root, name):
    path = os.path.realpath(os.path.join(root, name))
    return path == os.path.realpath(root) or path.startswith(os.path.realpath(root) + os.sep)


def _extract_into(archive, folder, archive_format):
    kinds = ("tar", "zip") if archive_format == "auto" else (archive_format,)
    if "tar" in kinds and tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            bad = [m.name for m in tar.getmembers() if not _inside(folder, m.name)
                   or m.issym() or m.islnk()]
            if bad:
                raise SavingError(f"The archive '{archive}' has members that are links or "
                                  f"point outside its folder: {bad[:3]}. Not extracted.")
            tar.extractall(folder, filter="data")
        return
    if "zip" in kinds and zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            bad = [n for n in z.namelist() if not _inside(folder, n)]
            if bad:
                raise SavingError(f"The archive '{archive}' has members that point outside "
                                  f"its folder: {bad[:3]}. Not extracted.")
            z.extractall(folder)
        return
    raise SavingError(f"Cannot extract '{archive}': it is not a {' or '.join(kinds)} archive.")


def extract_archive(archive, folder, archive_format="auto"):
    """Extract `archive` (tar, tar.gz or zip) into `folder`, replacing it whole."""
    parent = os.path.dirname(os.path.abspath(folder))
    tmp = tempfile.mkdtemp(prefix=".tmp-extract-", dir=parent)
    try:
        _extract_into(archive, tmp, archive_format)
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
    return folder


def _targets(fname, origin, datadir, extract):
    """(download target, extraction folder or None), as Keras names them."""
    given = bool(fname)
    fname = os.fspath(fname) if given else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not fname:
        raise ConfigurationError(
            f"get_file: cannot take a file name from the origin {origin!r}; pass fname=.")
    if given and os.sep in fname:
        raise ConfigurationError(
            f"get_file: fname must be a file name, received the path {fname!r}; pass the "
            "folder as cache_dir=.")
    if not extract:
        return os.path.join(datadir, fname), None
    if given and "." in fname:
        return os.path.join(datadir, fname), os.path.join(
            datadir, fname[:fname.find(".")] + "_extracted")
    return os.path.join(datadir, fname + "_archive"), os.path.join(datadir, fname)


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """Download `origin` to `cache_dir/cache_subdir/fname` unless it is there with the right
    hash; return its path (the extraction folder with `extract=True`). Keras's
    `keras.utils.get_file`, with lamina's cache folder (`$LAMINA_HOME`, default
    `~/.lamina`)."""
    if origin is None:
        raise ConfigurationError('get_file: please specify the "origin" argument (the URL).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    datadir = os.path.join(os.path.expanduser(cache_dir or lamina_home()), cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    extract = extract or untar
    target, folder = _targets(fname, origin, datadir, extract)
    fresh = force_download or not os.path.exists(target) or (
        file_hash is not None and not validate_file(target, file_hash, hash_algorithm))
    if fresh:
        _download(origin, target, file_hash, hash_algorithm)
    if folder is None:
        return target
    if fresh or not os.path.isdir(folder):
        extract_archive(target, folder, "tar" if untar else archive_format)
    return folder
