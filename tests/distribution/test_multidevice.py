"""Runs the 4-device cases in a fresh process, and swaps checkpoints with it.

This pytest process started jax with one CPU device; `multidevice_cases.py` runs in a child
pytest with XLA_FLAGS=--xla_force_host_platform_device_count=4 (set before jax starts). The
two processes share a folder: a backup written here on one device is resumed there on four
devices, and a backup written there on four devices is resumed here on one.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import digits
import numpy as np
import pytest

from lamina.callbacks import BackupAndRestore

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def child_env(devices, **extra):
    """The environment of a child process whose jax sees `devices` CPU devices."""
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split()
             if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices}"])
    env["JAX_PLATFORMS"] = "cpu"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    """(finished child pytest, shared folder, 1-device reference weights)."""
    exchange = tmp_path_factory.mktemp("exchange")
    x, y = digits.data()
    reference = digits.build()
    reference.fit(x, y, batch_size=128, epochs=2, seed=4, verbose=0)
    np.savez(exchange / "one_device_expected.npz",
             **{f"w{i}": w for i, w in enumerate(reference.get_weights())})
    digits.build().fit(x, y, batch_size=128, epochs=1, seed=4, verbose=0, callbacks=[
        BackupAndRestore(exchange / "backup_one_device", delete_checkpoint=False)])
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(HERE / "multidevice_cases.py")],
        cwd=REPO, env=child_env(4, LAMINA_DISTRIBUTION_EXCHANGE=str(exchange)),
        capture_output=True, text=True, timeout=300, check=False)
    return child, exchange, reference.get_weights()


def test_four_device_cases_pass(four_devices):
    child = four_devices[0]
    report = child.stdout[-8000:] + child.stderr[-4000:]
    assert child.returncode == 0, report
    summary = child.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "error" not in summary, report


def test_four_device_checkpoint_resumes_on_one_device(four_devices, tmp_path):
    child, exchange, expected = four_devices
    assert (exchange / "backup_four_devices").is_dir(), child.stdout[-4000:]
    backup = shutil.copytree(exchange / "backup_four_devices", tmp_path / "backup")
    x, y = digits.data()
    model = digits.build(seed=11)  # other initial weights: the backup replaces them
    model.fit(x, y, batch_size=128, epochs=2, seed=4, verbose=0,
              callbacks=[BackupAndRestore(backup, delete_checkpoint=False)])
    assert model._trainer.iterations == 28
    assert digits.max_diff(expected, model.get_weights()) < digits.ATOL
