"""The on-disk record of autotuned lowerings: one JSON file, read safely, written atomically.

The file is `$LAMINA_HOME/cache/lowering_autotune.json` (`$LAMINA_HOME` defaults to
`~/.lamina`; `LAMINA_AUTOTUNE_CACHE` names another file, or "none" to keep choices in
memory only). It holds `{"format": FORMAT, "version": VERSION, "entries": {key: name}}`: each
key is a JSON string naming the operation, shapes, dtype, strides, padding, dilation,
backend and machine (see `conv_autotune.decision_key`); each value is the winning
lowering's name. Nothing in it is executed: it is parsed with `json` (never pickle), and a
file that is not exactly this shape, too large, or not a regular file is refused whole -
a `RuntimeWarning`, its entries ignored, the next write replaces it - so a damaged or
hostile file can only cost a re-tuning. Writes merge with what is on disk and go through
`core.files.atomic_write` (a temporary file renamed over the target), so concurrent
processes never leave a half-written file; at worst one process's new entries are lost.
"""
import json
import os
import warnings

from lamina.core import files
from lamina.errors import SavingError

FORMAT = "lamina-lowering-autotune"
VERSION = 1
# A cache larger than this is refused unread (a real one holds a few hundred short entries).
MAX_BYTES = 4 * 2**20
MAX_KEY_CHARS = 2000
MAX_NAME_CHARS = 64


def cache_path():
    """The cache file's path, or None when `LAMINA_AUTOTUNE_CACHE` is "none"."""
    chosen = os.environ.get("LAMINA_AUTOTUNE_CACHE")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "none") else os.path.expanduser(chosen)
    home = os.environ.get("LAMINA_HOME") or os.path.join("~", ".lamina")
    return os.path.join(os.path.expanduser(home), "cache", "lowering_autotune.json")


def _refuse(path, why):
    warnings.warn(f"Ignoring the lowering autotune cache '{path}': {why}. The convolutions "
                  f"it covered are timed again and the file is rewritten; delete it to "
                  f"silence this warning.", RuntimeWarning, stacklevel=4)
    return {}


def _validated(data):
    """The entries of a parsed cache, or a string saying why the data is refused."""
    if not isinstance(data, dict) or set(data) != {"format", "version", "entries"}:
        return "expected an object with exactly the keys format, version, entries"
    if data["format"] != FORMAT or data["version"] != VERSION:
        return (f"expected format {FORMAT!r} version {VERSION}, received "
                f"{data['format']!r} version {data['version']!r}")
    entries = data["entries"]
    if not isinstance(entries, dict):
        return "expected 'entries' to be an object"
    for key, name in entries.items():
        if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS
                and name.isidentifier() and len(key) <= MAX_KEY_CHARS):
            return f"entry {key[:80]!r} holds {str(name)[:80]!r}, not a lowering name"
    return entries


def load(path):
    """The entries of the cache file at `path` ({} when it is missing or refused)."""
    if path is None or not os.path.lexists(path):
        return {}
    if not os.path.isfile(path):
        return _refuse(path, "it is not a regular file")
    try:
        if os.path.getsize(path) > MAX_BYTES:
            return _refuse(path, f"it is larger than {MAX_BYTES} bytes")
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        return _refuse(path, f"it cannot be read as JSON ({type(err).__name__}: {err})")
    entries = _validated(data)
    return _refuse(path, entries) if isinstance(entries, str) else dict(entries)


def store(path, new_entries):
    """Merge `new_entries` into the file at `path` (created with its folder if missing).

    An unwritable location only warns: the choices stay in this process's memory.
    """
    if path is None or not new_entries:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        entries = {**load(path), **new_entries}
    payload = json.dumps({"format": FORMAT, "version": VERSION, "entries": entries},
                         indent=0, sort_keys=True).encode("utf-8")
    try:
        files.make_directory(os.path.dirname(os.path.abspath(path)), "lowering autotune cache")
        files.atomic_write(path, lambda f: f.write(payload))
    except (SavingError, OSError) as err:
        warnings.warn(f"Could not write the lowering autotune cache '{path}': {err}. "
                      f"Choices are kept in memory for this process only.", RuntimeWarning,
                      stacklevel=3)
