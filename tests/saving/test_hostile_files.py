"""Hostile files: whatever is handed to `lamina.models.load_model(path)` or
`model.load_weights(path)`, lamina either refuses it with a `lamina.LaminaError` or (where a
change is provably harmless) loads exactly the saved model. Never another exception type,
never a crash or a hang, never code execution, never memory beyond a bound (docs/design.md section
3: "Saving is safe by construction").

The corpus is generated here, from a real archive written by `model.save(path)` of a small
compiled and trained model; no binary is checked in. Tampered members are *re-signed* (their
sha256 in metadata.json rewritten, and the zip's CRC recomputed) wherever the point is to
reach a deeper check (the safetensors parser, the config rebuild, the allocation budget)
rather than the checksum.

Every refusal runs under `bounded()`: a time limit, a tracemalloc peak limit, and an audit
hook that fails the case on any process spawn, `os.system`, fork, exec or unpickling.
Cases that must never succeed also assert that a sentinel file a payload would create does
not exist afterwards.

Bad saving: a missing directory, a directory as the target, and simulated read-only or full
file systems (tests run as root, where chmod does not stop writes, so `tempfile.mkstemp`,
writes, `os.fsync` and `os.replace` are made to fail) give a `LaminaError`, leave an existing
file at the target intact and loadable, and leave no temporary file behind.

Finally, property-based fuzzing (hypothesis, derandomized, no example database) mutates the
archive's bytes, its members (re-signed), its config's JSON tree and its safetensors headers.
"""
import base64
import collections
import contextlib
import dataclasses
import errno
import hashlib
import io
import json
import marshal
import os
import pathlib
import pickle
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import lamina as lm

METADATA, CONFIG, WEIGHTS, OPTIMIZER = (
    "metadata.json", "config.json", "model.safetensors", "optimizer.safetensors")
X = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(3, 4)
MAX_SECONDS = 10.0            # per load attempt (generous: 2 shared cores)
MAX_PEAK_BYTES = 64 << 20     # tracemalloc peak per load attempt; the archive is ~5 KB
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

CORPUS = collections.Counter()  # generated cases per test (printed at module teardown)


# -- the audit hook: no process, no shell, no unpickling while a hostile file loads --------
FORBIDDEN_EVENTS = frozenset({
    "os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.startfile", "pickle.find_class", "ctypes.dlopen", "pty.spawn",
})


class _Watch:
    active = False
    seen = []


def _audit(event, args):
    if _Watch.active and event in FORBIDDEN_EVENTS:
        _Watch.seen.append(f"{event}{args!r:.200}")


sys.addaudithook(_audit)  # cannot be removed; inert unless _Watch.active


@dataclasses.dataclass
class Measure:
    seconds: float = 0.0
    peak: int = 0
    events: tuple = ()


@contextlib.contextmanager
def bounded():
    """Measure time and tracemalloc peak and watch the audit events of the block; assert the
    bounds on a normal exit (a `pytest.raises` inside the block makes that the usual case)."""
    measure = Measure()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    _Watch.seen, _Watch.active = [], True
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a warning is not a refusal, nor a failure
            yield measure
    finally:
        measure.seconds = time.perf_counter() - t0
        measure.peak = tracemalloc.get_traced_memory()[1]
        _Watch.active = False
        measure.events = tuple(_Watch.seen)
        if started:
            tracemalloc.stop()
    assert not measure.events, f"forbidden operations while loading: {measure.events}"
    assert measure.seconds < MAX_SECONDS, f"took {measure.seconds:.1f} s"
    assert measure.peak < MAX_PEAK_BYTES, f"allocated {measure.peak:,} bytes (tracemalloc)"


def _count():
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0].split("::")[-1]
    CORPUS[test.split("[")[0]] += 1


def assert_refused(path, load=None, match=None, deep=False):
    """`load(path)` raises a LaminaError within the bounds. `deep`: the refusal must come
    from a check past the checksum (the member was re-signed)."""
    _count()
    with bounded():
        with pytest.raises(lm.LaminaError, match=match) as info:
            (load or lm.models.load_model)(path)
    assert str(path) in str(info.value), f"the error does not name the file: {info.value}"
    if deep:
        assert "checksum" not in str(info.value), info.value
    return info.value


def attempt(load, path):
    """One load in a loop of cases: ("refused" | "loaded" | "crashed" | "unbounded", value)."""
    _count()
    try:
        with bounded() as measure:
            try:
                return "loaded", load(path)
            except lm.LaminaError as err:
                if str(path) not in str(err):
                    return "unnamed", f"the error does not name the file: {err}"[:300]
                return "refused", err
            except Exception as err:  # noqa: BLE001 - the point is to catch everything else
                return "crashed", f"{type(err).__name__}: {err}"[:300]
    except AssertionError as bound:
        return "unbounded", f"{bound} ({measure.seconds:.2f} s, peak {measure.peak:,} B)"


def identical(model, original):
    out = np.asarray(model(X))
    return (np.array_equal(out, original.prediction)
            and len(model.get_weights()) == len(original.weights)
            and all(np.array_equal(a, b)
                    for a, b in zip(model.get_weights(), original.weights, strict=True)))


def problems_of(cases, original, allow_identical):
    """Run `cases` [(label, path, load)], returning the descriptions of those that crashed,
    broke a bound, or loaded (with `allow_identical`, `load_model` may load the original
    model itself: a harmless change)."""
    problems = []
    for label, path, load in cases:
        kind, value = attempt(load, path)
        if kind == "refused":
            continue
        if kind == "loaded" and allow_identical and load is lm.models.load_model:
            try:
                if identical(value, original):
                    continue
                kind, value = "loaded a different model", ""
            except Exception as err:  # noqa: BLE001
                kind, value = "loaded a model that fails", f"{type(err).__name__}: {err}"
        problems.append(f"{label}: {kind}: {value if kind != 'loaded' else type(value)}"[:400])
    return problems


def fail_on(problems, total):
    assert not problems, (f"{len(problems)} of {total} cases misbehaved:\n  "
                          + "\n  ".join(problems[:40]))


# -- building archives -------------------------------------------------------------------
def zinfo(name, mode=stat.S_IFREG | 0o644, compress=zipfile.ZIP_STORED):
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = compress
    info.external_attr = mode << 16
    return info


def _name(entry):
    return entry.filename if isinstance(entry, zipfile.ZipInfo) else entry


def pack(entries, resign=True):
    """Zip bytes of `entries` [(name or ZipInfo, data)]. With `resign`, every metadata.json
    entry's members table is rewritten to list exactly the other entries with their true
    sha256 and size, so only deeper checks can refuse the archive."""
    entries = list(entries)
    if resign:
        table = {_name(n): {"sha256": hashlib.sha256(d).hexdigest(),
                            "size": len(d)}
                 for n, d in entries if _name(n) != METADATA}
        for i, (n, d) in enumerate(entries):
            if _name(n) == METADATA:
                meta = json.loads(d)
                meta["members"] = table
                entries[i] = (n, json.dumps(meta, indent=1).encode())
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns when writing a duplicate name
        with zipfile.ZipFile(buffer, "w") as zf:
            for n, d in entries:
                zf.writestr(n if isinstance(n, zipfile.ZipInfo) else zinfo(n), d)
    return buffer.getvalue()


def replaced(entries, name, data):
    assert name in [n for n, _ in entries]
    return [(n, data if n == name else d) for n, d in entries]


def st_split(data):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def st_join(header, body):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def nested(depth, leaf="mse", kind="list"):
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


@dataclasses.dataclass(frozen=True, repr=False)
class Original:
    path: object
    data: bytes
    entries: tuple
    weights_path: object
    weights_data: bytes
    prediction: np.ndarray
    weights: list
    config: dict

    def __repr__(self):  # keep hypothesis's falsifying-example reports short
        return f"Original({self.path})"

    def member(self, name):
        return dict(self.entries)[name]

    def with_config(self, config):
        return pack(replaced(self.entries, CONFIG, json.dumps(config).encode()))

    def with_tensors(self, header, body, member=WEIGHTS):
        return pack(replaced(self.entries, member, st_join(header, body)))


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    lm.reset_names()
    lm.random.set_seed(0)
    folder = tmp_path_factory.mktemp("original")
    inputs = lm.Input((4,))
    hidden = lm.layers.Dense(3, activation="relu")(inputs)
    model = lm.Model(inputs, lm.layers.Dense(2)(hidden))
    model.compile(optimizer=lm.optimizers.Adam(1e-2), loss="mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(16, 4)).astype(np.float32),
              rng.normal(size=(16, 2)).astype(np.float32), batch_size=8, epochs=1, verbose=0)
    path, weights_path = folder / "model.lamina", folder / "model.weights.safetensors"
    model.save(path)
    model.save_weights(weights_path)
    data = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = tuple((info.filename, zf.read(info)) for info in zf.infolist())
    yield Original(path, data, entries, weights_path, weights_path.read_bytes(),
                   np.asarray(model(X)), model.get_weights(), json.loads(dict(entries)[CONFIG]))
    total = sum(CORPUS.values())
    print(f"\n[hostile files] {total} generated cases in {len(CORPUS)} tests: "
          + ", ".join(f"{k}={v}" for k, v in sorted(CORPUS.items())))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for the generated files: in memory (/dev/shm) where there is one, since
    rewriting a file thousands of times is slow on some disk file systems."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        folder = tempfile.mkdtemp(prefix="lamina-hostile-", dir="/dev/shm")
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield str(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def case(scratch):
    """write(data, name) -> the path of a (new) file holding `data`."""
    def write(data, name="case.lamina"):
        path = pathlib.Path(scratch) / name
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a new file: no truncate-and-rewrite flush
        path.write_bytes(data)
        return path

    return write


def sample(n, limit):
    """range(n) if it has at most `limit` items, else its first and last 16 and an even
    spread: about `limit` positions (to keep the file's run time near a minute)."""
    if n <= limit:
        return list(range(n))
    return sorted(set(range(16)) | set(range(n - 16, n))
                  | set(np.linspace(0, n - 1, limit - 32).astype(int).tolist()))


@pytest.fixture(scope="module")
def shared_target(original):
    """One loaded model for the fuzz examples to load weights files into."""
    return lm.models.load_model(original.path)


@pytest.fixture
def fresh(original):
    """A model loaded from the original archive, to load weights files into."""
    return lm.models.load_model(original.path)


def load_weights_into(model):
    def load(path):
        return model.load_weights(path)

    return load


# == the baseline ==========================================================================
def test_the_watchdog_sees_code_execution(tmp_path):
    """The harness itself: an unpickled payload inside `bounded()` is reported."""
    sentinel = tmp_path / "PWNED"
    with pytest.raises(AssertionError, match="forbidden operations"):
        with bounded():
            pickle.loads(pickle.dumps(_PickleBomb(f"touch {sentinel}")))
    assert sentinel.exists()  # (the payload did run here: that is what is detected)


def test_original_archive_loads_identically(original):
    model = lm.models.load_model(original.path)
    assert identical(model, original)
    assert [n for n, _ in original.entries] == [METADATA, CONFIG, WEIGHTS, OPTIMIZER]


def test_repacked_and_resigned_archive_still_loads(original, case):
    """The corpus's tools are sound: re-signing an unchanged archive, or re-serialising the
    config, changes nothing, so every refusal below comes from the mutation itself."""
    assert identical(lm.models.load_model(case(pack(original.entries))), original)
    assert identical(lm.models.load_model(case(original.with_config(original.config))),
                     original)
    header, body = st_split(original.member(WEIGHTS))
    assert identical(lm.models.load_model(case(original.with_tensors(header, body))), original)


# == truncation ============================================================================
def test_truncated_archive_is_refused_at_many_cut_points(original, case):
    """Every cut inside the zip's own structures (local headers, central directory, end
    record) and every 5th byte elsewhere."""
    cuts = sorted(set(_structure_offsets(original.data)) | set(range(0, len(original.data), 5)))
    problems = []
    for cut in cuts:
        problems += problems_of([(f"archive cut at byte {cut}", case(original.data[:cut]),
                                  lm.models.load_model)], original, allow_identical=False)
    fail_on(problems, len(cuts))


@pytest.mark.parametrize("member", [CONFIG, WEIGHTS, OPTIMIZER, METADATA])
def test_truncated_member_is_refused_even_when_resigned(original, case, member):
    """Every cut point of model.safetensors; a spread of 400 (ends included) for the
    longer config.json and metadata.json, of 64 for optimizer.safetensors, which is read
    last, after a full model build."""
    data = original.member(member)
    problems = []
    cuts = sample(len(data), 64 if member == OPTIMIZER else 400)
    for cut in cuts:
        entries = replaced(original.entries, member, data[:cut])
        # a truncated metadata.json cannot be re-signed (it is the signature)
        path = case(pack(entries, resign=member != METADATA))
        problems += problems_of([(f"{member} cut at {cut}", path, lm.models.load_model)],
                                original, allow_identical=False)
    fail_on(problems, len(cuts))


def test_truncated_weights_file_is_refused_at_every_cut_point(original, fresh, case):
    problems = []
    for cut in range(len(original.weights_data)):
        path = case(original.weights_data[:cut], "w.safetensors")
        problems += problems_of([(f"weights cut at {cut}", path, load_weights_into(fresh))],
                                original, allow_identical=False)
    fail_on(problems, len(original.weights_data))
    assert identical(fresh, original)  # refusals assigned nothing


# == flipped bytes =========================================================================
def _structure_offsets(data):
    """Byte offsets of the zip's own structures: local headers, central directory, end."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        offsets = set()
        for info in zf.infolist():
            size = 30 + len(info.filename.encode()) + len(info.extra)
            offsets.update(range(info.header_offset, info.header_offset + size))
        offsets.update(range(zf.start_dir, len(data)))
    return sorted(offsets)


def test_flipped_byte_in_zip_structure_is_refused_or_harmless(original, case):
    """Bytes of the local headers, the central directory and its end record (a spread of
    120, ends included), flipped with a mask cycling through 0x01, 0x80, 0xFF. Some bytes
    (timestamps, 'version made by', entry counts) do not matter; a flip there must load the
    very same model, anything else must be refused."""
    structure = _structure_offsets(original.data)
    offsets = [structure[i] for i in sample(len(structure), 120)]
    problems = []
    for i, at in enumerate(offsets):
        mask = (0x01, 0x80, 0xFF)[i % 3]
        data = bytearray(original.data)
        data[at] ^= mask
        problems += problems_of([(f"byte {at} ^ {mask:#x}", case(bytes(data)),
                                  lm.models.load_model)], original, allow_identical=True)
    fail_on(problems, len(offsets))


def test_flipped_byte_in_metadata_json_is_refused(original, case):
    with zipfile.ZipFile(io.BytesIO(original.data)) as zf:
        info = zf.getinfo(METADATA)
    start = info.header_offset + 30 + len(METADATA) + len(info.extra)
    positions = [start + i for i in sample(info.file_size, 200)]
    problems = []
    for at in positions:
        data = bytearray(original.data)
        data[at] ^= 0x20
        problems += problems_of([(f"metadata byte {at - start}", case(bytes(data)),
                                  lm.models.load_model)], original, allow_identical=False)
    fail_on(problems, len(positions))


@pytest.mark.parametrize("member", [CONFIG, WEIGHTS, OPTIMIZER])
def test_flipped_byte_in_member_data_fails_the_checksum(original, case, member):
    """The zip's CRC is recomputed (the archive is repacked) but metadata.json is not
    re-signed: the sha256 check must catch a flipped byte anywhere (header and data alike;
    a spread of 300 positions, ends included)."""
    data = original.member(member)
    positions = sample(len(data), 300)
    problems = []
    for at in positions:
        mutated = bytearray(data)
        mutated[at] ^= 0x01
        path = case(pack(replaced(original.entries, member, bytes(mutated)), resign=False))
        kind, value = attempt(lm.models.load_model, path)
        if kind != "refused" or "checksum" not in str(value):
            problems.append(f"{member} byte {at}: {kind}: {value}")
    fail_on(problems, len(positions))


@pytest.mark.parametrize("member", [WEIGHTS, OPTIMIZER])
@pytest.mark.parametrize("mask", [0x01, 0xFF])
def test_flipped_byte_in_safetensors_header_is_refused_when_resigned(original, case, member,
                                                                     mask):
    """A spread of header bytes (ends included): 200 of model.safetensors, 40 of
    optimizer.safetensors, which is read last, after a full model build."""
    data = original.member(member)
    (header_len,) = struct.unpack("<Q", data[:8])
    positions = sample(8 + header_len, 40 if member == OPTIMIZER else 200)
    problems = []
    for at in positions:
        mutated = bytearray(data)
        mutated[at] ^= mask
        path = case(pack(replaced(original.entries, member, bytes(mutated))))
        problems += problems_of([(f"{member} header byte {at} ^ {mask:#x}", path,
                                  lm.models.load_model)], original, allow_identical=True)
    fail_on(problems, len(positions))


@pytest.mark.parametrize("mask", [0x01, 0xFF])
def test_flipped_byte_in_weights_file_header_is_refused(original, fresh, case, mask):
    """A weights file has no checksum; a flipped *data* byte is undetectable by design, but
    every header byte matters (the padding spaces become invalid JSON or UTF-8)."""
    data = original.weights_data
    (header_len,) = struct.unpack("<Q", data[:8])
    problems = []
    for at in range(8 + header_len):
        mutated = bytearray(data)
        mutated[at] ^= mask
        path = case(bytes(mutated), "w.safetensors")
        problems += problems_of([(f"header byte {at} ^ {mask:#x}", path,
                                  load_weights_into(fresh))], original, allow_identical=False)
    fail_on(problems, 8 + header_len)
    assert identical(fresh, original)


# == safetensors headers: wrong offsets, petabyte shapes, bad dtypes (re-signed) ==========
def _edit(change):
    """A case that edits the header in place: `change(header, data_bytes, k, k2)`, where
    `k` is the tensor under attack and `k2` another one."""
    def apply(header, body, k, k2):
        change(header, len(body), k, k2)
        return header, body
    return apply


def _first(h, k):
    return h[k]["data_offsets"][0]


def _without(h, b, k):
    """The header and data without tensor `k` (later ranges moved down)."""
    start, end = h[k]["data_offsets"]
    out = {}
    for name, entry in h.items():
        if name == k or name == "__metadata__":
            continue
        s, e = entry["data_offsets"]
        shift = end - start if s >= end else 0
        out[name] = {**entry, "data_offsets": [s - shift, e - shift]}
    return out, b[:start] + b[end:]


TENSOR_CASES = {
    "start past the end": _edit(lambda h, n, k, k2: h[k].update(data_offsets=[n + 8, n + 20])),
    "end past the end": _edit(lambda h, n, k, k2: h[k].update(data_offsets=[_first(h, k), n + 4])),
    "negative start": _edit(lambda h, n, k, k2: h[k].update(data_offsets=[-12, 0])),
    "start after end": _edit(lambda h, n, k, k2: h[k].update(
        data_offsets=h[k]["data_offsets"][::-1])),
    "overlapping ranges": _edit(lambda h, n, k, k2: h[k].update(
        data_offsets=[o + 4 for o in h[k]["data_offsets"]])),
    "shared range": _edit(lambda h, n, k, k2: h[k2].update(data_offsets=h[k]["data_offsets"])),
    "swapped ranges of different sizes": _edit(lambda h, n, k, k2: (
        lambda a, b: (h[k].update(data_offsets=b), h[k2].update(data_offsets=a)))(
        h[k]["data_offsets"], h[k2]["data_offsets"])),
    "offsets 2**64": _edit(lambda h, n, k, k2: h[k].update(data_offsets=[2**64, 2**64 + 12])),
    "offsets near 2**63": _edit(lambda h, n, k, k2: h[k].update(
        data_offsets=[2**63 - 13, 2**63 - 1])),
    "one offset": _edit(lambda h, n, k, k2: h[k].update(data_offsets=[0])),
    "three offsets": _edit(lambda h, n, k, k2: h[k].update(data_offsets=[0, 12, 24])),
    "float offsets": _edit(lambda h, n, k, k2: h[k].update(
        data_offsets=[float(o) for o in h[k]["data_offsets"]])),
    "string offsets": _edit(lambda h, n, k, k2: h[k].update(
        data_offsets=[str(o) for o in h[k]["data_offsets"]])),
    "bool offsets": _edit(lambda h, n, k, k2: h[k].update(data_offsets=[False, True])),
    "null offsets": _edit(lambda h, n, k, k2: h[k].update(data_offsets=None)),
    "dict offsets": _edit(lambda h, n, k, k2: h[k].update(data_offsets={"0": 12})),
    "gap at the end": lambda h, b, k, k2: (h, b + b"\0" * 8),
    "gap at the start": lambda h, b, k, k2: (
        {name: (entry if name == "__metadata__" else
                {**entry, "data_offsets": [o + 4 for o in entry["data_offsets"]]})
         for name, entry in h.items()}, b"\0" * 4 + b),
    "missing data": lambda h, b, k, k2: (h, b[:-4]),
    "petabyte shape": _edit(lambda h, n, k, k2: h[k].update(shape=[10**15, 10**15])),
    "shape 2**62": _edit(lambda h, n, k, k2: h[k].update(shape=[2**62])),
    "shape 2**63 x 2": _edit(lambda h, n, k, k2: h[k].update(shape=[2**63, 2])),
    "shape 2**64": _edit(lambda h, n, k, k2: h[k].update(shape=[2**64])),
    "shape 2**31 ** 4": _edit(lambda h, n, k, k2: h[k].update(shape=[2**31] * 4)),
    "petabyte offsets and shape": _edit(lambda h, n, k, k2: h[k].update(
        shape=[2**48], data_offsets=[0, 2**50])),
    "zero-size tensor with a 2**70 dimension": _edit(lambda h, n, k, k2: h.update(
        extra={"dtype": "F32", "shape": [0, 2**70], "data_offsets": [n, n]})),
    "zero-size tensor with 2**40 dimensions": _edit(lambda h, n, k, k2: h.update(
        extra={"dtype": "F32", "shape": [0] + [2**40] * 4, "data_offsets": [0, 0]})),
    "100 dimensions": _edit(lambda h, n, k, k2: h[k].update(shape=[1] * 99 + h[k]["shape"])),
    "negative dimensions": _edit(lambda h, n, k, k2: h[k].update(
        shape=[-1] + [-d for d in h[k]["shape"]])),
    "float dimension": _edit(lambda h, n, k, k2: h[k].update(
        shape=[float(d) for d in h[k]["shape"]])),
    "string dimension": _edit(lambda h, n, k, k2: h[k].update(
        shape=[str(d) for d in h[k]["shape"]])),
    "null shape": _edit(lambda h, n, k, k2: h[k].update(shape=None)),
    "shape and bytes disagree": _edit(lambda h, n, k, k2: h[k].update(
        shape=h[k]["shape"] + [2])),
    "dtype BF16": _edit(lambda h, n, k, k2: h[k].update(dtype="BF16")),
    "dtype object": _edit(lambda h, n, k, k2: h[k].update(dtype="O")),
    "dtype null": _edit(lambda h, n, k, k2: h[k].update(dtype=None)),
    "dtype list": _edit(lambda h, n, k, k2: h[k].update(dtype=["F32"])),
    "dtype dict": _edit(lambda h, n, k, k2: h[k].update(dtype={"F32": 1})),
    "dtype lowercase": _edit(lambda h, n, k, k2: h[k].update(dtype=h[k]["dtype"].lower())),
    "extra key": _edit(lambda h, n, k, k2: h[k].update(pickle="os.system")),
    "missing key": _edit(lambda h, n, k, k2: h[k].pop("dtype")),
    "entry not an object": _edit(lambda h, n, k, k2: h.update({k: h[k]["data_offsets"]})),
    "header a list": lambda h, b, k, k2: ([h], b),
    "header a string": lambda h, b, k, k2: ("header", b),
    "renamed tensor": _edit(lambda h, n, k, k2: h.update({"../" + k: h.pop(k)})),
    "tensor missing": lambda h, b, k, k2: _without(h, b, k),
    "extra tensor": lambda h, b, k, k2: (
        {**h, "extra": {"dtype": "F32", "shape": [1], "data_offsets": [len(b), len(b) + 4]}},
        b + b"\0" * 4),
}


def _targets(header):
    """The tensor to attack (the first stored one that is not a scalar) and another one of
    a different byte size (the last such one)."""
    names = sorted((n for n in header if n != "__metadata__"),
                   key=lambda n: header[n]["data_offsets"])
    size = lambda n: header[n]["data_offsets"][1] - header[n]["data_offsets"][0]  # noqa: E731
    k = next(n for n in names if header[n]["shape"])
    k2 = [n for n in names if size(n) != size(k)][-1]
    return k, k2


def _st_bytes(data, name):
    header, body = st_split(data)
    k, k2 = _targets(header)
    header, body = TENSOR_CASES[name](json.loads(json.dumps(header)), body, k, k2)
    return st_join(header, body)


RAW_TENSOR_CASES = {
    "header length 0": lambda d: struct.pack("<Q", 0) + d[8:],
    "header length 2**64-1": lambda d: struct.pack("<Q", 2**64 - 1) + d[8:],
    "header length 2**63": lambda d: struct.pack("<Q", 2**63) + d[8:],
    "header length past the member": lambda d: struct.pack("<Q", len(d)) + d[8:],
    "header length one short":
        lambda d: struct.pack("<Q", struct.unpack("<Q", d[:8])[0] - 1) + d[8:],
    "header length one long":
        lambda d: struct.pack("<Q", struct.unpack("<Q", d[:8])[0] + 1) + d[8:],
    "seven bytes": lambda d: d[:7],
    "header not UTF-8": lambda d: d[:8] + b"\xff\xfe" + d[10:],
    "header deeply nested": lambda d: struct.pack("<Q", 200_000) + b"[" * 200_000,
    "header 16 MiB + 1 of spaces":
        lambda d: struct.pack("<Q", (16 << 20) + 1) + b" " * ((16 << 20) + 1),
    "a pickle": lambda d: pickle.dumps({"dense/bias": np.zeros(3)}),
    "a zip": lambda d: _a_zip(),
}


def _a_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("data.pkl", b"\x80\x04N.")
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(TENSOR_CASES))
@pytest.mark.parametrize("member", [WEIGHTS, OPTIMIZER])
def test_tampered_safetensors_header_is_refused_by_the_tensor_parser(original, case, member,
                                                                     name):
    """Re-signed: the checksum passes, the safetensors parser (or the weight / optimizer
    assignment) must refuse, within the time and memory bounds (a petabyte shape allocates
    nothing)."""
    data = _st_bytes(original.member(member), name)
    err = assert_refused(case(pack(replaced(original.entries, member, data))), deep=True)
    assert member in str(err)


@pytest.mark.parametrize("name", sorted(RAW_TENSOR_CASES))
@pytest.mark.parametrize("member", [WEIGHTS, OPTIMIZER])
def test_malformed_safetensors_member_is_refused(original, case, member, name):
    data = RAW_TENSOR_CASES[name](original.member(member))
    err = assert_refused(case(pack(replaced(original.entries, member, data))), deep=True)
    assert member in str(err)


@pytest.mark.parametrize("name", sorted(TENSOR_CASES) + sorted(RAW_TENSOR_CASES))
def test_tampered_weights_file_is_refused_by_load_weights(original, fresh, case, name):
    if name in TENSOR_CASES:
        data = _st_bytes(original.weights_data, name)
    else:
        data = RAW_TENSOR_CASES[name](original.weights_data)
    assert_refused(case(data, "w.safetensors"), load=load_weights_into(fresh))
    assert identical(fresh, original)  # a refused file assigns nothing


# == zip members: names, links, duplicates, extras, compression, nesting ===================
TRAVERSAL_NAMES = ["../config.json", "../../../../tmp/config.json", "/config.json",
                   "/etc/passwd", "a/../../config.json", "a/../config.json", "..\\config.json",
                   "a\\..\\..\\config.json", "C:\\config.json", "C:config.json",
                   "config.json/", "./config.json", "sub/config.json", "config.json\\",
                   "\\\\server\\share\\config.json", "..", "."]


@pytest.mark.parametrize("name", TRAVERSAL_NAMES)
@pytest.mark.parametrize("how", ["renamed config", "extra member"])
def test_path_traversal_member_names_are_refused(original, case, name, how):
    if how == "renamed config":
        entries = [(name if n == CONFIG else n, d) for n, d in original.entries]
    else:
        entries = list(original.entries) + [(name, b"{}")]
    assert_refused(case(pack(entries)))


LINK_TYPES = {"symlink": stat.S_IFLNK, "directory": stat.S_IFDIR, "char device": stat.S_IFCHR,
              "block device": stat.S_IFBLK, "fifo": stat.S_IFIFO, "socket": stat.S_IFSOCK}


@pytest.mark.parametrize("kind", sorted(LINK_TYPES))
@pytest.mark.parametrize("member", [CONFIG, WEIGHTS, METADATA])
def test_link_and_special_members_are_refused(original, case, kind, member):
    target = b"/etc/passwd" if kind == "symlink" else None
    entries = [(zinfo(n, mode=LINK_TYPES[kind] | 0o777) if n == member else n,
                target if (n == member and target is not None) else d)
               for n, d in original.entries]
    err = assert_refused(case(pack(entries, resign=member != METADATA)))
    assert member in str(err)


def test_extra_symlink_member_is_refused(original, case):
    entries = list(original.entries) + [(zinfo("link", mode=stat.S_IFLNK | 0o777), b"/etc")]
    assert_refused(case(pack(entries)))


@pytest.mark.parametrize("member", [METADATA, CONFIG, WEIGHTS, OPTIMIZER])
@pytest.mark.parametrize("same_data", [True, False])
def test_duplicate_members_are_refused(original, case, member, same_data):
    data = original.member(member)
    second = data if same_data else (json.dumps({"model": {"class_name": "os.system",
                                                           "config": {}}}).encode())
    err = assert_refused(case(pack(list(original.entries) + [(member, second)])))
    assert member in str(err)


EXTRA_MEMBERS = {
    "extra.txt": b"hello", "model.weights.h5": b"\x89HDF\r\n\x1a\n", "config.json.bak": b"{}",
    "__init__.py": b"import os; os.system('true')", "payload.pkl": b"\x80\x04N.",
    "model.safetensors.1": b"", "META-INF/MANIFEST.MF": b"x", "assets/": b"",
    "variables/variables.index": b"", "CONFIG.JSON": b"{}", "config.json ": b"{}",
}


@pytest.mark.parametrize("name", sorted(EXTRA_MEMBERS))
@pytest.mark.parametrize("resign", [True, False])
def test_unexpected_extra_members_are_refused(original, case, name, resign):
    entries = list(original.entries) + [(name, EXTRA_MEMBERS[name])]
    assert_refused(case(pack(entries, resign=resign)))


COMPRESSIONS = {"deflated": zipfile.ZIP_DEFLATED, "bzip2": zipfile.ZIP_BZIP2,
                "lzma": zipfile.ZIP_LZMA}


@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
@pytest.mark.parametrize("member", [METADATA, CONFIG, WEIGHTS, OPTIMIZER])
def test_compressed_members_are_refused(original, case, compression, member):
    entries = [(zinfo(n, compress=COMPRESSIONS[compression]) if n == member else n, d)
               for n, d in original.entries]
    err = assert_refused(case(pack(entries, resign=False)))
    assert member in str(err)


def test_decompression_bomb_is_refused_without_inflating(original, case):
    """config.json inflating to 64 MiB (a few dozen KiB deflated): refused from its
    header, with a tracemalloc peak far below the inflated size."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for n, d in original.entries:
            if n != CONFIG:
                zf.writestr(zinfo(n), d)
                continue
            with zf.open(zinfo(n, compress=zipfile.ZIP_DEFLATED), "w", force_zip64=True) as f:
                f.write(d[:-1])
                chunk = b" " * (1 << 20)
                for _ in range(64):
                    f.write(chunk)
                f.write(b"}")
    data = buffer.getvalue()
    assert len(data) < 1 << 20
    path = case(data)
    with bounded() as measure:
        with pytest.raises(lm.LaminaError):
            lm.models.load_model(path)
    assert measure.peak < 8 << 20, f"peak {measure.peak:,} bytes: the bomb was inflated"


def _with_flag_bits(data, member, bits):
    """Set general-purpose flag `bits` of `member` in its local header and its central
    directory entry (zipfile clears them when writing)."""
    data = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        local = zf.getinfo(member).header_offset
        central = zf.start_dir
        for info in zf.infolist():
            if info.filename == member:
                break
            central += 46 + len(info.filename.encode()) + len(info.extra) + len(info.comment)
    for at in (local + 6, central + 8):
        flags = struct.unpack("<H", data[at:at + 2])[0] | bits
        data[at:at + 2] = struct.pack("<H", flags)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        assert zf.getinfo(member).flag_bits & bits == bits
    return bytes(data)


@pytest.mark.parametrize("member", [METADATA, CONFIG, WEIGHTS])
def test_encrypted_member_is_refused(original, case, member):
    err = assert_refused(case(_with_flag_bits(original.data, member, 0x1)))
    assert member in str(err)


@pytest.mark.parametrize("where", ["extra member", "as config.json", "as model.safetensors",
                                   "as optimizer.safetensors", "as metadata.json",
                                   "wrapped whole", "wrapped with metadata"])
def test_nested_archives_are_refused(original, case, where):
    inner = original.data
    if where == "extra member":
        data = pack(list(original.entries) + [("inner.lamina", inner)])
    elif where == "as metadata.json":
        data = pack(replaced(original.entries, METADATA, inner), resign=False)
    elif where.startswith("as "):
        data = pack(replaced(original.entries, where[3:], inner))
    elif where == "wrapped whole":
        data = pack([("model.lamina", inner)], resign=False)
    else:
        data = pack([(METADATA, original.member(METADATA)), ("model.lamina", inner)])
    assert_refused(case(data))


@pytest.mark.parametrize("where", ["prepended", "appended"])
def test_junk_around_the_zip_is_refused_or_harmless(original, case, where):
    junk = b"#!/bin/sh\nrm -rf /\n" + bytes(range(256))
    data = junk + original.data if where == "prepended" else original.data + junk
    fail_on(problems_of([(where, case(data), lm.models.load_model)], original,
                        allow_identical=True), 1)


METADATA_CASES = {
    "format keras": lambda m: m.update(format="keras"),
    "no format": lambda m: m.pop("format"),
    "format version 2": lambda m: m.update(format_version=2),
    "format version '1'": lambda m: m.update(format_version="1"),
    "format version 1.5": lambda m: m.update(format_version=1.5),
    "member missing": lambda m: m["members"].pop(WEIGHTS),
    "member extra": lambda m: m["members"].update({"extra.bin": {"sha256": "0" * 64}}),
    "members a list": lambda m: m.update(members=[CONFIG, WEIGHTS, OPTIMIZER]),
    "members null": lambda m: m.update(members=None),
    "entry a string": lambda m: m["members"].update({CONFIG: "fdc0"}),
    "sha256 uppercase": lambda m: m["members"][CONFIG].update(
        sha256=m["members"][CONFIG]["sha256"].upper()),
    "sha256 null": lambda m: m["members"][CONFIG].update(sha256=None),
    "sha256 of another member": lambda m: m["members"][CONFIG].update(
        sha256=m["members"][WEIGHTS]["sha256"]),
}


@pytest.mark.parametrize("name", sorted(METADATA_CASES))
def test_tampered_metadata_is_refused(original, case, name):
    meta = json.loads(original.member(METADATA))
    METADATA_CASES[name](meta)
    assert_refused(case(pack(replaced(original.entries, METADATA, json.dumps(meta).encode()),
                             resign=False)))


@pytest.mark.parametrize("data", [b"", b"[]", b"null", b'"lamina"', b"\xff\xfe{}",
                                  b"[" * 100_000, b'{"format": "lamina"}', b"{" * 3])
def test_malformed_metadata_json_is_refused(original, case, data):
    assert_refused(case(pack(replaced(original.entries, METADATA, data), resign=False)))


def test_archive_without_metadata_is_refused(original, case):
    assert_refused(case(pack([(n, d) for n, d in original.entries if n != METADATA],
                             resign=False)))


@pytest.mark.parametrize("member", [CONFIG, WEIGHTS])
def test_archive_missing_a_required_member_is_refused(original, case, member):
    assert_refused(case(pack([(n, d) for n, d in original.entries if n != member])))


# == configs (re-signed) ===================================================================
CONFIG_BYTES = {
    "empty": b"", "not JSON": b"model = Dense(3)", "not UTF-8": b'{"model": "\xff"}',
    "a list": b"[]", "a string": b'"Model"', "null": b"null", "deeply nested": b"[" * 100_000,
    "NaN": b"NaN", "a pickle": pickle.dumps({"model": None}),
}


@pytest.mark.parametrize("name", sorted(CONFIG_BYTES))
def test_malformed_config_is_refused(original, case, name):
    assert_refused(case(pack(replaced(original.entries, CONFIG, CONFIG_BYTES[name]))),
                   deep=True)


def _layer(config, index=1):
    return config["model"]["config"]["layers"][index]


UNREGISTERED = ["Conv9D", "MyLayer", "RoundTripEvil", "dense", "Dense ", " Dense",
                "keras.layers.Dense", "lamina.layers.Dense", "lamina.layers.core.Dense",
                "__main__.Evil", "", "Adam", "optimizers.Ftrl", "losses.NotALoss", "object",
                "type", "Functional", "InputLayer\x00", "Dense\u200b"]


@pytest.mark.parametrize("class_name", UNREGISTERED)
@pytest.mark.parametrize("where", ["model", "layer", "optimizer", "loss"])
def test_unregistered_class_names_are_refused(original, case, class_name, where):
    config = json.loads(json.dumps(original.config))
    if where == "model":
        config["model"]["class_name"] = class_name
    elif where == "layer":
        _layer(config)["class_name"] = class_name
    elif where == "optimizer":
        config["compile"]["optimizer"]["class_name"] = class_name
    else:
        config["compile"]["loss"] = {"class_name": class_name, "config": {}}
    assert_refused(case(original.with_config(config)), deep=True)


# -- code-execution attempts, each with a sentinel file that a payload would create ------
def _payloads(sentinel):
    s = str(sentinel)
    shell = f"touch {s}"
    python = f"open({s!r}, 'w').close()"
    expression = f"__import__('os').system({shell!r})"
    code = base64.b64encode(marshal.dumps(compile(python, "<payload>", "exec"))).decode()
    evil_pickle = base64.b64encode(pickle.dumps(_PickleBomb(shell))).decode()
    return shell, python, expression, code, evil_pickle


class _PickleBomb:
    """Unpickling this runs `os.system(command)`; it is only ever pickled here."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _code_cases(sentinel):
    shell, python, expression, code, evil_pickle = _payloads(sentinel)
    as_class = lambda name, cfg: {"class_name": name, "config": cfg}  # noqa: E731
    cases = {
        "model os.system": lambda c: c.update(model=as_class("os.system", {"command": shell})),
        "model os.system config string": lambda c: c.update(model=as_class("os.system", shell)),
        "model builtins.eval": lambda c: c.update(model=as_class("builtins.eval", expression)),
        "model builtins.exec": lambda c: c.update(model=as_class("builtins.exec", python)),
        "model posix.system": lambda c: c.update(model=as_class("posix.system", shell)),
        "model subprocess.Popen": lambda c: c.update(model=as_class(
            "subprocess.Popen", {"args": ["touch", str(sentinel)]})),
        "model __import__": lambda c: c.update(model=as_class("__import__", "os")),
        "model keras-style module os": lambda c: c.update(model={
            "module": "os", "class_name": "system", "config": {"command": shell},
            "registered_name": "os>system"}),
        "model keras-style builtins eval": lambda c: c.update(model={
            "module": "builtins", "class_name": "eval", "config": expression,
            "registered_name": None}),
        "layer os.system": lambda c: _layer(c).update(class_name="os.system",
                                                      config={"command": shell}),
        "layer Lambda with marshalled code": lambda c: _layer(c).update(
            class_name="Lambda", config={"name": "dense", "function": {
                "class_name": "__lambda__", "config": {"code": code, "defaults": None,
                                                       "closure": None}}}),
        "activation eval expression": lambda c: _layer(c)["config"].update(activation=expression),
        "activation os.system": lambda c: _layer(c)["config"].update(activation="os.system"),
        "activation class builtins.eval": lambda c: _layer(c)["config"].update(
            activation=as_class("builtins.eval", expression)),
        "activation registered_function os.system": lambda c: _layer(c)["config"].update(
            activation={"registered_function": "os.system"}),
        "kernel_initializer eval expression": lambda c: _layer(c)["config"].update(
            kernel_initializer=expression),
        "kernel_initializer class os.system": lambda c: _layer(c)["config"].update(
            kernel_initializer=as_class("os.system", {"command": shell})),
        "bias_initializer registered_function builtins.eval": lambda c: _layer(c)["config"].update(
            bias_initializer={"registered_function": "builtins.eval"}),
        "dtype eval expression": lambda c: _layer(c)["config"].update(dtype=expression),
        "input dtype eval expression": lambda c: _layer(c, 0)["config"].update(dtype=expression),
        "loss registered_function os.system": lambda c: c["compile"].update(
            loss={"registered_function": "os.system"}),
        "loss class builtins.eval": lambda c: c["compile"].update(
            loss=as_class("builtins.eval", {"source": expression})),
        "loss eval expression": lambda c: c["compile"].update(loss=expression),
        "metric registered_function builtins.exec": lambda c: c["compile"].update(
            metrics=[{"registered_function": "builtins.exec"}]),
        "metric eval expression": lambda c: c["compile"].update(metrics=[expression]),
        "loss_weights registered_function os.system": lambda c: c["compile"].update(
            loss_weights={"registered_function": "os.system"}),
        "optimizer os.system": lambda c: c["compile"].update(
            optimizer=as_class("os.system", {"command": shell})),
        "optimizer learning_rate registered_function": lambda c: c["compile"]["optimizer"][
            "config"].update(learning_rate={"registered_function": "os.system"}),
        "optimizer learning_rate class builtins.eval": lambda c: c["compile"]["optimizer"][
            "config"].update(learning_rate=as_class("builtins.eval", expression)),
        "pickled object in config": lambda c: c["compile"].update(
            loss={"py/reduce": evil_pickle, "__pickle__": evil_pickle}),
    }
    return cases


CODE_CASE_NAMES = sorted(_code_cases("/nonexistent"))


@pytest.mark.parametrize("name", CODE_CASE_NAMES)
def test_config_naming_code_is_refused_and_runs_nothing(original, case, tmp_path, name):
    sentinel = tmp_path / "PWNED"
    config = json.loads(json.dumps(original.config))
    _code_cases(sentinel)[name](config)
    assert_refused(case(original.with_config(config)), deep=True)
    assert not sentinel.exists(), "a payload in the config was executed"


@pytest.mark.parametrize("member", [WEIGHTS, OPTIMIZER, "payload.pkl"])
def test_pickle_payload_member_is_refused_and_never_unpickled(original, case, tmp_path, member):
    sentinel = tmp_path / "PWNED"
    bomb = pickle.dumps(_PickleBomb(f"touch {sentinel}"))
    if member == "payload.pkl":
        entries = list(original.entries) + [(member, bomb)]
    else:
        entries = replaced(original.entries, member, bomb)
    assert_refused(case(pack(entries)))
    assert not sentinel.exists()


def test_pickle_weights_file_is_refused_and_never_unpickled(original, fresh, case, tmp_path):
    sentinel = tmp_path / "PWNED"
    path = case(pickle.dumps(_PickleBomb(f"touch {sentinel}")), "w.safetensors")
    assert_refused(path, load=load_weights_into(fresh))
    assert not sentinel.exists()
    assert identical(fresh, original)


def _keras_archive(sentinel, how):
    """A hostile Keras 3 `.keras` file: metadata.json, config.json, model.weights.h5."""
    shell, python, expression, code, _ = _payloads(sentinel)
    if how == "lambda":
        layer = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                 "config": {"name": "evil", "function": {
                     "class_name": "__lambda__",
                     "config": {"code": code, "defaults": None, "closure": None}}}}
    else:
        layer = {"module": "os", "class_name": "system", "registered_name": "os>system",
                 "config": {"command": shell}}
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "sequential", "layers": [
                  {"module": "keras.layers", "class_name": "InputLayer",
                   "registered_name": None,
                   "config": {"batch_shape": [None, 4], "dtype": "float32"}}, layer]}}
    h5 = io.BytesIO()
    import h5py

    with h5py.File(h5, "w") as f:
        f.create_group("layers")
        f.attrs["note"] = expression
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.3.3",
                                                 "date_saved": "2024-01-01@00:00:00"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", h5.getvalue())
    return buffer.getvalue()


@pytest.mark.parametrize("how", ["lambda", "module os"])
def test_hostile_keras_archive_is_refused_and_runs_nothing(case, tmp_path, how):
    sentinel = tmp_path / "PWNED"
    assert_refused(case(_keras_archive(sentinel, how), "model.keras"))
    assert not sentinel.exists()


# -- allocation bounds ----------------------------------------------------------------------
BUDGET_CASES = {
    "units 10**9": lambda c: _layer(c)["config"].update(units=10**9),
    "units 2**40": lambda c: _layer(c)["config"].update(units=2**40),
    "units 2**62 (int64 product wraps to 0)": lambda c: _layer(c)["config"].update(units=2**62),
    "units 10**30 (beyond int64)": lambda c: _layer(c)["config"].update(units=10**30),
    "input dim 10**9": lambda c: _layer(c, 0)["config"].update(batch_shape=[None, 10**9]),
    "input dim 2**62 (negative int64 product)": lambda c: _layer(c, 0)["config"].update(
        batch_shape=[None, 2**62]),
    "second layer units 10**8": lambda c: _layer(c, 2)["config"].update(units=10**8),
    "units 10**9 zeros initializers": lambda c: _layer(c)["config"].update(
        units=10**9, kernel_initializer="zeros", bias_initializer="zeros"),
}


@pytest.mark.parametrize("name", sorted(BUDGET_CASES))
def test_huge_layer_is_refused_by_the_allocation_budget_before_allocating(original, case,
                                                                          name):
    """The loader's budget is the weight bytes the file holds (~400 bytes here): a Dense
    declaring 10**9 units must be refused by the budget check itself, quickly, without
    allocating (tracemalloc peak under 64 MiB; 10**9 float32 units would be 16 GB)."""
    config = json.loads(json.dumps(original.config))
    BUDGET_CASES[name](config)
    path = case(original.with_config(config))
    t0 = time.perf_counter()
    err = assert_refused(path, deep=True, match="would allocate")
    assert time.perf_counter() - t0 < 5.0
    assert "nothing was allocated" in str(err)


# -- other malformed configs -----------------------------------------------------------------
MALFORMED_CONFIGS = {
    "no model": lambda c: c.pop("model"),
    "no trainability": lambda c: c.pop("trainability"),
    "model a list": lambda c: c.update(model=[]),
    "model config a list": lambda c: c["model"].update(config=[]),
    "class_name a list": lambda c: c["model"].update(class_name=["Model"]),
    "class_name a dict": lambda c: c["model"].update(class_name={"Model": 1}),
    "layer config a list": lambda c: _layer(c).update(config=[1]),
    "layer config a string": lambda c: _layer(c).update(config="units=3"),
    "units 0": lambda c: _layer(c)["config"].update(units=0),
    "units -1": lambda c: _layer(c)["config"].update(units=-1),
    "units 1.5": lambda c: _layer(c)["config"].update(units=1.5),
    "units '3'": lambda c: _layer(c)["config"].update(units="3"),
    "units null": lambda c: _layer(c)["config"].update(units=None),
    "units NaN": lambda c: _layer(c)["config"].update(units=float("nan")),
    "unknown layer argument": lambda c: _layer(c)["config"].update(filename="/etc/passwd"),
    "negative input dimension": lambda c: _layer(c, 0)["config"].update(batch_shape=[None, -4]),
    "input dimension a string": lambda c: _layer(c, 0)["config"].update(batch_shape=[None, "4"]),
    "batch_shape a string": lambda c: _layer(c, 0)["config"].update(batch_shape="(None, 4)"),
    "node names an unknown layer": lambda c: c["model"]["config"]["nodes"][0].update(layer="x"),
    "node layer a list": lambda c: c["model"]["config"]["nodes"][0].update(layer=["dense"]),
    "node refers to a later tensor (cycle)": lambda c: c["model"]["config"]["nodes"][0][
        "args"][0].update(__tensor__=["dense_1", 0, 0]),
    "node refers to itself": lambda c: c["model"]["config"]["nodes"][0]["args"][0].update(
        __tensor__=["dense", 0, 0]),
    "tensor reference an int": lambda c: c["model"]["config"]["nodes"][0]["args"][0].update(
        __tensor__=5),
    "tensor index out of range": lambda c: c["model"]["config"]["nodes"][0]["args"][0].update(
        __tensor__=["input_layer", 0, 7]),
    "node kwargs a list": lambda c: c["model"]["config"]["nodes"][0].update(kwargs=[1]),
    "nodes missing": lambda c: c["model"]["config"].pop("nodes"),
    "output unknown": lambda c: c["model"]["config"].update(output_layers=["nope", 0, 0]),
    "output a string": lambda c: c["model"]["config"].update(output_layers="dense_1"),
    "duplicate layer names": lambda c: _layer(c, 2)["config"].update(name="dense"),
    "layer_flags a list": lambda c: c["trainability"].update(layer_flags=[True]),
    "layer_flags unknown path": lambda c: c["trainability"]["layer_flags"].update(
        {"../../etc": False}),
    "variable_flags unknown path": lambda c: c["trainability"]["variable_flags"].update(
        {"dense/../kernel": False}),
    "freezes an int": lambda c: c["trainability"].update(freezes={"": 5}),
    "freezes unknown layer": lambda c: c["trainability"].update(freezes={"": ["nope"]}),
    "compile a list": lambda c: c.update(compile=[1]),
    "optimizer missing": lambda c: c["compile"].pop("optimizer"),
    "optimizer unknown argument": lambda c: c["compile"]["optimizer"]["config"].update(pwn=1),
    "optimizer learning_rate a string": lambda c: c["compile"]["optimizer"]["config"].update(
        learning_rate="fast"),
    "optimizer learning_rate a list": lambda c: c["compile"]["optimizer"]["config"].update(
        learning_rate=[0.1]),
    "loss_weights a string": lambda c: c["compile"].update(loss_weights="x"),
    "optimizer state without compile": lambda c: c.update(compile=None),
    "iterations a string": lambda c: c.update(iterations="many"),
    "iterations NaN": lambda c: c.update(iterations=float("nan")),
    "iterations Infinity": lambda c: c.update(iterations=float("inf")),
    "iterations -Infinity": lambda c: c.update(iterations=float("-inf")),
    "iterations a list": lambda c: c.update(iterations=[1]),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_CONFIGS))
def test_malformed_model_config_is_refused(original, case, name):
    config = json.loads(json.dumps(original.config))
    MALFORMED_CONFIGS[name](config)
    assert_refused(case(original.with_config(config)), deep=True)


@pytest.mark.parametrize("depth", [400, 850, 950])
@pytest.mark.parametrize("where", ["metrics list", "loss dict", "loss_weights dict",
                                   "layer config", "trainability"])
def test_deeply_nested_config_is_refused(original, case, depth, where):
    """Nesting that the JSON parser accepts must not blow the loader's own recursion."""
    config = json.loads(json.dumps(original.config))
    if where == "metrics list":
        config["compile"]["metrics"] = nested(depth)
    elif where == "loss dict":
        config["compile"]["loss"] = nested(depth, kind="dict")
    elif where == "loss_weights dict":
        config["compile"]["loss_weights"] = nested(depth, leaf=1.0, kind="dict")
    elif where == "layer config":
        _layer(config)["config"]["activation"] = nested(depth, leaf="relu")
    else:
        config["trainability"] = nested(depth, leaf={}, kind="dict")
    try:
        data = json.dumps(config).encode()
    except RecursionError:
        pytest.skip("too deep for this interpreter's json encoder")
    assert_refused(case(pack(replaced(original.entries, CONFIG, data))), deep=True)


# == not archives at all ==================================================================
def _h5_file(path, hostile):
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {
            "layers": [{"class_name": "Lambda", "config": {"function": hostile}}]}})
        f.create_dataset("model_weights/dense/kernel", data=np.ones((4, 3), np.float32))


def _other_files(original, tmp_path):
    rng = np.random.default_rng(1234)
    sentinel = tmp_path / "PWNED"
    files = {
        "empty file": b"",
        "one byte": b"P",
        "zip magic only": b"PK\x03\x04",
        "empty zip": b"PK\x05\x06" + b"\0" * 18,
        "zip magic and random bytes": b"PK\x03\x04" + rng.bytes(4096),
        "plain JSON (the config alone)": original.member(CONFIG),
        "JSON list": b"[1, 2, 3]",
        "a safetensors file": original.weights_data,
        "a pickle": pickle.dumps(_PickleBomb(f"touch {sentinel}")),
        "numpy .npy": _npy(),
        "a text file": b"#!/bin/sh\ntouch " + str(sentinel).encode() + b"\n",
    }
    for size in (1, 7, 8, 22, 100, 4096, 65536, 1 << 20):
        files[f"random {size} bytes"] = rng.bytes(size)
    return files


def _npy():
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    return buffer.getvalue()


def test_files_that_are_not_lamina_archives_are_refused(original, fresh, tmp_path):
    sentinel = tmp_path / "PWNED"
    files = _other_files(original, tmp_path)
    cases = []
    for label, data in files.items():
        path = tmp_path / f"{len(cases)}.lamina"
        path.write_bytes(data)
        cases.append((label, path, lm.models.load_model))
        if label != "a safetensors file":
            cases.append((f"{label} (load_weights)", path, load_weights_into(fresh)))
    h5 = tmp_path / "model.h5"
    _h5_file(h5, {"class_name": "__lambda__", "config": {"code": _payloads(sentinel)[3]}})
    cases += [("an HDF5 file", h5, lm.models.load_model),
              ("an HDF5 file (load_weights)", h5, load_weights_into(fresh)),
              ("a lamina archive as a weights file", original.path, load_weights_into(fresh))]
    fail_on(problems_of(cases, original, allow_identical=False), len(cases))
    assert not sentinel.exists()
    assert identical(fresh, original)


@pytest.mark.parametrize("loader", ["load_model", "load_weights"])
@pytest.mark.parametrize("what", ["missing file", "missing directory", "a directory",
                                  "/dev/null", "name too long", "NUL byte in the path",
                                  "a path through a file"])
def test_bad_paths_are_refused(original, fresh, tmp_path, loader, what):
    path = {"missing file": tmp_path / "nope.lamina",
            "missing directory": tmp_path / "nope" / "model.lamina",
            "a directory": tmp_path,
            "/dev/null": "/dev/null",
            "name too long": tmp_path / ("x" * 5000),
            "NUL byte in the path": str(tmp_path / "model\0.lamina"),
            "a path through a file": original.path / "model.lamina"}[what]
    load = lm.models.load_model if loader == "load_model" else load_weights_into(fresh)
    assert_refused(path, load=load)


def test_fifo_is_refused_without_blocking(tmp_path):
    """A FIFO (or a device) is not a file: open() blocks until a writer comes, read() of
    /dev/zero never ends. Loading must refuse non-regular files instead of reading them."""
    fifo = tmp_path / "pipe.lamina"
    os.mkfifo(fifo)
    result = {}

    def run():
        try:
            lm.models.load_model(fifo)
        except BaseException as err:  # noqa: BLE001
            result["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(2)
    blocked = thread.is_alive()
    if blocked:  # release it: open the writing end, write nothing, close
        with open(fifo, "wb"):
            pass
        thread.join(5)
    assert not blocked, "load_model blocked on a FIFO (it reads non-regular files)"
    assert isinstance(result.get("error"), lm.LaminaError), result


def test_endless_device_is_refused_within_a_memory_bound():
    """`load_model("/dev/zero")` must not read forever. Run in a child process whose address
    space may grow by at most 1 GiB, so a failure is a MemoryError there, not an OOM here."""
    code = textwrap.dedent("""
        import resource
        import lamina as lm
        size = int([l for l in open("/proc/self/status") if l.startswith("VmSize")][0].split()[1])
        limit = (size << 10) + (1 << 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        for load in (lm.models.load_model, lm.Sequential().load_weights):
            try:
                load("/dev/zero")
                print("LOADED")
            except lm.LaminaError:
                print("REFUSED")
            except MemoryError:
                print("MemoryError")
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert run.stdout.split() == ["REFUSED", "REFUSED"], (run.stdout, run.stderr[-2000:])


# == saving: bad targets and failing file systems ==========================================
def _other_model():
    inputs = lm.Input((4,))
    model = lm.Model(inputs, lm.layers.Dense(2)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_saving_into_a_missing_directory_is_refused(tmp_path):
    model = _other_model()
    for save in (model.save, model.save_weights):
        with pytest.raises(lm.LaminaError, match="does not exist"):
            save(tmp_path / "missing" / "model.lamina")
    assert os.listdir(tmp_path) == []


def test_saving_through_a_file_is_refused(original, tmp_path):
    model = _other_model()
    for save in (model.save, model.save_weights):
        with pytest.raises(lm.LaminaError):
            save(original.path / "model.lamina")


def test_saving_onto_a_directory_is_refused_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.lamina"
    target.mkdir()
    model = _other_model()
    for save in (model.save, model.save_weights):
        with pytest.raises(lm.LaminaError):
            save(target)
        assert sorted(os.listdir(tmp_path)) == ["model.lamina"]
        assert target.is_dir()


class _FullDisk:
    """A file object that accepts `room` bytes, then fails like a full disk."""

    def __init__(self, f, room):
        self._f, self._room = f, room

    def write(self, data):
        data = bytes(data)
        if len(data) > self._room:
            self._f.write(data[:self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def _fail(err):
    def fail(*args, **kwargs):
        raise err
    return fail


FAILURES = {
    "mkstemp EROFS": ("tempfile.mkstemp", OSError(errno.EROFS, "Read-only file system")),
    "mkstemp EACCES": ("tempfile.mkstemp", PermissionError(errno.EACCES, "Permission denied")),
    "write ENOSPC at byte 0": ("os.fdopen", 0),
    "write ENOSPC at byte 128": ("os.fdopen", 128),
    "write ENOSPC at byte 16": ("os.fdopen", 16),
    "fsync ENOSPC": ("os.fsync", OSError(errno.ENOSPC, "No space left on device")),
    "fsync EIO": ("os.fsync", OSError(errno.EIO, "Input/output error")),
    "replace EROFS": ("os.replace", OSError(errno.EROFS, "Read-only file system")),
    "replace ENOSPC": ("os.replace", OSError(errno.ENOSPC, "No space left on device")),
    "replace EXDEV": ("os.replace", OSError(errno.EXDEV, "Invalid cross-device link")),
}


def _install_failure(monkeypatch, name):
    target, how = FAILURES[name]
    if target == "os.fdopen":
        real = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _FullDisk(real(fd, *a, **k), how))
    elif target == "tempfile.mkstemp":
        monkeypatch.setattr(tempfile, "mkstemp", _fail(how))
    else:
        monkeypatch.setattr(os, target.split(".")[1], _fail(how))


@pytest.mark.parametrize("kind", ["model", "weights"])
@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_failed_save_keeps_the_existing_file_and_leaves_no_temporary(original, tmp_path,
                                                                     monkeypatch, kind,
                                                                     failure):
    """Simulated read-only / full file systems (root ignores chmod): the save raises a
    LaminaError, the good file already at the target is untouched and still loads, and no
    temporary file is left in the directory."""
    target = tmp_path / ("model.lamina" if kind == "model" else "model.weights.safetensors")
    good = original.data if kind == "model" else original.weights_data
    target.write_bytes(good)
    model = _other_model()
    save = model.save if kind == "model" else model.save_weights
    _install_failure(monkeypatch, failure)
    try:
        with pytest.raises(lm.LaminaError) as info:
            save(target)
    finally:
        monkeypatch.undo()
    message = str(info.value)
    assert str(target) in message or target.name in message
    assert target.read_bytes() == good
    assert os.listdir(tmp_path) == [target.name]
    if kind == "model":
        assert identical(lm.models.load_model(target), original)
    else:
        loaded = lm.models.load_model(original.path)
        loaded.load_weights(target)
        assert identical(loaded, original)


@pytest.mark.parametrize("kind", ["model", "weights"])
def test_interrupted_save_keeps_the_existing_file_and_leaves_no_temporary(original, tmp_path,
                                                                          monkeypatch, kind):
    target = tmp_path / "target"
    good = original.data if kind == "model" else original.weights_data
    target.write_bytes(good)
    model = _other_model()
    monkeypatch.setattr(os, "fsync", _fail(KeyboardInterrupt()))
    try:
        with pytest.raises(KeyboardInterrupt):
            (model.save if kind == "model" else model.save_weights)(target)
    finally:
        monkeypatch.undo()
    assert target.read_bytes() == good
    assert os.listdir(tmp_path) == ["target"]


# == property-based fuzzing ================================================================
def _mutate(draw, data, donors):
    """`data` changed by one drawn mutation (a description goes to the hypothesis note)."""
    data = bytearray(data)
    kind = draw(st.sampled_from(["flip", "truncate", "overwrite", "delete", "insert",
                                 "duplicate", "set"]))
    n = len(data)
    if n == 0:
        kind = "insert"
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, n - 1))
            data[at] ^= draw(st.integers(1, 255))
    elif kind == "set":
        at = draw(st.integers(0, n - 1))
        data[at] = draw(st.sampled_from([0, 0x20, 0x22, 0x2C, 0x30, 0x39, 0x5B, 0x5D, 0x7B,
                                         0x7D, 0x7F, 0x80, 0xFF]))
    elif kind == "truncate":
        del data[draw(st.integers(0, n - 1)):]
    elif kind == "delete":
        a = draw(st.integers(0, n - 1))
        del data[a:draw(st.integers(a + 1, min(n, a + 64)))]
    elif kind == "insert":
        at = draw(st.integers(0, n))
        data[at:at] = draw(st.binary(min_size=1, max_size=32))
    else:  # overwrite / duplicate: splice a slice of a donor (another member, or itself)
        donor = draw(st.sampled_from(donors)) or bytes(data)
        a = draw(st.integers(0, len(donor) - 1))
        piece = donor[a:draw(st.integers(a + 1, min(len(donor), a + 128)))]
        at = draw(st.integers(0, n - 1))
        if kind == "overwrite":
            data[at:at + len(piece)] = piece
        else:
            data[at:at] = piece
    note(f"mutation: {kind}")
    return bytes(data)


def _load_in_fuzz(path):
    """LaminaError -> None, a model -> the model; anything else propagates (a failure)."""
    with bounded():
        try:
            return lm.models.load_model(path)
        except lm.LaminaError as err:
            note(f"refused: {err}"[:300])
            assert str(path) in str(err), f"the error does not name the file: {err}"
            return None


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_fuzz_raw_archive_bytes(original, data, tmp_path_factory):
    """Unsigned byte mutations of the archive file: refused, or (a harmless byte, such as a
    timestamp) exactly the original model."""
    donors = [d for _, d in original.entries] + [b""]
    mutated = _mutate(data.draw, original.data, donors)
    path = tmp_path_factory.getbasetemp() / "fuzz-raw.lamina"
    path.write_bytes(mutated)
    model = _load_in_fuzz(path)
    if model is not None:
        assert identical(model, original), "a mutated archive loaded a different model"


@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_fuzz_resigned_members(original, data, tmp_path_factory):
    """Member-level mutations, re-signed so the checksum passes: byte mutations, truncation,
    splices from other members, swaps, drops and renames. Refused, or a lamina model (and
    the original model when config.json and model.safetensors were not touched)."""
    entries = [list(e) for e in original.entries]
    names = [n for n, _ in entries if n != METADATA]
    op = data.draw(st.sampled_from(["mutate", "mutate", "mutate", "swap", "drop", "rename",
                                    "copy"]))
    target = data.draw(st.sampled_from(names))
    note(f"op {op} on {target}")
    if op == "mutate":
        donors = [d for _, d in entries] + [b""]
        for e in entries:
            if e[0] == target:
                e[1] = _mutate(data.draw, e[1], donors)
    elif op in ("swap", "copy"):
        other = data.draw(st.sampled_from([n for n in names if n != target]))
        note(f"with {other}")
        contents = dict((n, d) for n, d in entries)
        for e in entries:
            if e[0] == target:
                e[1] = contents[other]
            elif e[0] == other and op == "swap":
                e[1] = contents[target]
    elif op == "drop":
        entries = [e for e in entries if e[0] != target]
    else:
        new = data.draw(st.sampled_from([CONFIG, WEIGHTS, OPTIMIZER, "x.json", "../" + target]))
        note(f"renamed to {new}")
        entries = [[new if n == target else n, d] for n, d in entries]
    path = tmp_path_factory.getbasetemp() / "fuzz-members.lamina"
    path.write_bytes(pack([tuple(e) for e in entries]))
    model = _load_in_fuzz(path)
    if model is None:
        return
    assert isinstance(model, lm.Model)
    unchanged = dict(original.entries)
    now = {n: d for n, d in entries}
    if all(now.get(n) == unchanged[n] for n in (CONFIG, WEIGHTS)):
        assert identical(model, original)


SPECIAL_VALUES = [None, True, False, 0, -1, 1, 3, 2**31, 2**62, 2**64, 10**30, -10**30, 0.5,
                  1e308, float("inf"), float("-inf"), float("nan"), "", "os.system",
                  "builtins.eval", "Dense", "Model", "Sequential", "InputLayer", "relu",
                  "zeros", "float32", "float64", "int8", "F32", "dense", "dense_1", "", [],
                  {}, ["dense", 0, 0], ["input_layer", 0, 0], [None, 4], [None, 10**9],
                  {"registered_function": "os.system"},
                  {"class_name": "os.system", "config": {}},
                  {"class_name": "Dense", "config": {"units": 10**9}},
                  {"class_name": "Dense", "config": {"units": 3, "name": "dense"}},
                  {"__tensor__": ["dense", 0, 0]}, {"__tensor__": ["input_layer", 0, 0]}]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6)
VALUES = st.one_of(st.sampled_from(SPECIAL_VALUES), JSON_VALUES)


def _json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _json_paths(v, prefix + (i,))


def _mutate_json(draw, tree):
    """`tree` (a deep copy) with one node replaced, deleted, or given a new key / item."""
    tree = json.loads(json.dumps(tree))
    paths = list(_json_paths(tree))
    path = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
    note(f"{op} at {list(path)}")
    if not path:
        return draw(VALUES) if op == "replace" else tree
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    node = parent[path[-1]]
    if op == "replace":
        parent[path[-1]] = draw(VALUES)
    elif op == "delete":
        del parent[path[-1]]
    elif isinstance(node, dict):
        node[draw(st.sampled_from(["class_name", "config", "units", "name", "x"])
                  | st.text(max_size=8))] = draw(VALUES)
    elif isinstance(node, list):
        node.insert(draw(st.integers(0, len(node))), draw(VALUES))
    else:
        parent[path[-1]] = draw(VALUES)
    return tree


@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_fuzz_config_json_tree(original, data, tmp_path_factory):
    """One node of config.json replaced by a random or adversarial JSON value, deleted or
    given a sibling; re-signed. Refused, or a lamina model that predicts."""
    config = _mutate_json(data.draw, original.config)
    path = tmp_path_factory.getbasetemp() / "fuzz-config.lamina"
    path.write_bytes(pack(replaced(original.entries, CONFIG,
                                   json.dumps(config).encode())))
    model = _load_in_fuzz(path)
    if model is not None:
        assert isinstance(model, lm.Model)


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_fuzz_safetensors_header_tree(original, data, tmp_path_factory, shared_target):
    """One node of a safetensors header changed (re-signed in the archive, and as a plain
    weights file for load_weights): refused, or loaded."""
    member = data.draw(st.sampled_from([WEIGHTS, WEIGHTS, OPTIMIZER]))
    header, body = st_split(original.member(member))
    tampered = st_join(_mutate_json(data.draw, header), body)
    folder = tmp_path_factory.getbasetemp()
    path = folder / "fuzz-header.lamina"
    path.write_bytes(pack(replaced(original.entries, member, tampered)))
    model = _load_in_fuzz(path)
    if model is not None:
        assert isinstance(model, lm.Model)
    if member == WEIGHTS:
        weights = folder / "fuzz-header.safetensors"
        weights.write_bytes(tampered)
        with bounded():
            try:
                shared_target.load_weights(weights)
            except lm.LaminaError as err:
                note(f"load_weights refused: {err}"[:300])
                assert identical(shared_target, original)  # nothing assigned
            else:
                shared_target.load_weights(original.weights_path)  # back to the original
