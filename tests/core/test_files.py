"""core/files.py::atomic_write: saved files get the umask's mode, symlinks are written
through, and the temporary files of killed saves are cleaned up by the next save."""
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import lamina as lm
from lamina.core import files


@pytest.fixture(scope="module")
def model():
    inp = lm.Input((2,))
    return lm.Model(inp, lm.layers.Dense(1)(inp))


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_saved_files_get_the_mode_of_the_umask(tmp_path, model, umask, mode):
    previous = os.umask(umask)
    try:
        model.save(tmp_path / "m.lamina")
        model.save_weights(tmp_path / "w.safetensors")
        plain = tmp_path / "plain"
        plain.write_bytes(b"")  # what open(path, "w") gives, the reference
    finally:
        os.umask(previous)
    for name in ("m.lamina", "w.safetensors", "plain"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name


def test_a_symlink_at_the_target_is_written_through(tmp_path, model):
    real = tmp_path / "store" / "m.lamina"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "m.lamina"
    link.symlink_to(real)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    loaded = lm.models.load_model(real)
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not [n for n in os.listdir(real.parent) if n.endswith(".partial")]


def test_a_dangling_symlink_into_a_missing_folder_is_refused(tmp_path, model):
    link = tmp_path / "m.lamina"
    link.symlink_to(tmp_path / "missing" / "m.lamina")
    with pytest.raises(lm.errors.SavingError, match=r"symbolic link to .*missing.* folder "
                                                    r"does not exist"):
        model.save(link)


def _dead_pid():
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_leftovers_of_killed_saves_are_removed_by_the_next_save(tmp_path, model):
    target = tmp_path / "m.lamina"
    prefix = files._temp_prefix(str(target))
    dead = tmp_path / f"{prefix}{_dead_pid()}.abc123.partial"
    alive = tmp_path / f"{prefix}{os.getppid()}.def456.partial"  # a running process's
    other_host = tmp_path / f".tmp-m.lamina.elsewhere.{_dead_pid()}.x.partial"
    other_target = tmp_path / f"{files._temp_prefix(str(tmp_path / 'n.lamina'))}1.x.partial"
    for path in (dead, alive, other_host, other_target):
        path.write_bytes(b"partial")
    model.save(target)
    assert not dead.exists()
    assert alive.exists() and other_host.exists() and other_target.exists()
    assert lm.models.load_model(target) is not None


def test_a_killed_save_leaves_a_partial_that_the_next_save_cleans(tmp_path, model):
    """A real kill: a child process dies inside its write (os._exit in `fill`)."""
    target = tmp_path / "m.lamina"
    code = ("import os, sys; from lamina.core.files import atomic_write\n"
            "def fill(f):\n    f.write(b'x' * 1000); f.flush(); os._exit(9)\n"
            f"atomic_write({str(target)!r}, fill)\n")
    child = subprocess.run([sys.executable, "-c", code], env={**os.environ},
                           capture_output=True, text=True)
    assert child.returncode == 9, child.stderr
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".partial")]
    assert len(leftovers) == 1 and not target.exists()
    model.save(target)
    assert [n for n in os.listdir(tmp_path) if n.endswith(".partial")] == []
