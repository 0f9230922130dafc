"""`lamina.utils.get_file`: downloads from a local `file://` origin (never the network) into
the cache, hash checks, atomic writes, re-download of a stale cache, safe extraction."""
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

import lamina as lm
from lamina.utils import file_download

PAYLOAD = b"lamina dataset bytes " * 1000


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _origin(tmp_path, name="data.bin", payload=PAYLOAD):
    path = tmp_path / "server" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(payload)
    return path.as_uri()


def test_download_into_lamina_home_with_sha256_and_md5(tmp_path, home, capsys):
    origin = _origin(tmp_path)
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    path = lm.utils.get_file("data.bin", origin=origin, file_hash=sha)
    assert path == str(home / "datasets" / "data.bin")
    assert Path(path).read_bytes() == PAYLOAD
    assert f"Downloading data from {origin}" in capsys.readouterr().out
    md5 = hashlib.md5(PAYLOAD).hexdigest()
    again = lm.utils.get_file("data.bin", origin=origin, md5_hash=md5)
    assert again == path and capsys.readouterr().out == ""  # cached: no second download
    assert lm.utils.get_file(origin=origin, cache_dir=tmp_path / "c", cache_subdir="x") == str(
        tmp_path / "c" / "x" / "data.bin")  # name from the URL, explicit cache folder


def test_hash_mismatch_is_an_error_naming_the_file_and_writes_nothing(tmp_path, home):
    origin = _origin(tmp_path)
    with pytest.raises(lm.SavingError, match=r"data.bin.*sha256.*expected 0{64}"):
        lm.utils.get_file("data.bin", origin=origin, file_hash="0" * 64)
    assert os.listdir(home / "datasets") == []  # no partial file, no temporary left


def test_a_stale_cached_file_is_downloaded_again(tmp_path, home):
    origin = _origin(tmp_path)
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / "data.bin").write_bytes(b"truncated")
    path = lm.utils.get_file("data.bin", origin=origin,
                             file_hash=hashlib.sha256(PAYLOAD).hexdigest())
    assert Path(path).read_bytes() == PAYLOAD


def test_an_unreachable_origin_names_the_file(tmp_path, home):
    with pytest.raises(lm.SavingError, match="missing.bin"):
        lm.utils.get_file("missing.bin", origin=(tmp_path / "nope.bin").as_uri())


def test_the_download_streams_through_a_progress_bar(tmp_path, home, monkeypatch):
    seen = []
    real = file_download.Progbar

    class Spy(real):
        def update(self, current, values=None, finalize=None):
            seen.append((self.target, current))
            super().update(current, values, finalize)

    monkeypatch.setattr(file_download, "Progbar", Spy)
    monkeypatch.setattr(file_download, "CHUNK", 4096)
    lm.utils.get_file("data.bin", origin=_origin(tmp_path))
    assert seen[0][0] == len(PAYLOAD) and seen[-1][1] == len(PAYLOAD) and len(seen) > 3


def _tar(entries):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_extract_tar_gz_and_zip_as_keras_names_the_folders(tmp_path, home):
    archive = _tar([("inner/a.txt", b"A"), ("inner/b.txt", b"B")])
    folder = lm.utils.get_file("pack.tar.gz", origin=_origin(tmp_path, "p.tgz", archive),
                               extract=True)
    assert folder == str(home / "datasets" / "pack_extracted")
    assert Path(folder, "inner", "b.txt").read_text() == "B"
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("x/y.txt", "Y")
    folder = lm.utils.get_file("zipped", origin=_origin(tmp_path, "z.zip", zipped.getvalue()),
                               extract=True)
    assert folder == str(home / "datasets" / "zipped")
    assert os.path.exists(home / "datasets" / "zipped_archive")
    assert Path(folder, "x", "y.txt").read_text() == "Y"


def test_archive_members_outside_the_folder_are_refused(tmp_path, home):
    archive = _tar([("../escape.txt", b"gotcha")])
    with pytest.raises(lm.SavingError, match="outside"):
        lm.utils.get_file("evil.tar.gz", origin=_origin(tmp_path, "e.tgz", archive),
                          extract=True)
    assert not (home / "escape.txt").exists() and not (home / "datasets" / "escape.txt").exists()


def test_argument_errors():
    with pytest.raises(lm.ConfigurationError, match="origin"):
        lm.utils.get_file("a")
    with pytest.raises(lm.ConfigurationError, match="cache_dir"):
        lm.utils.get_file(os.path.join("a", "b"), origin="file:///x")
