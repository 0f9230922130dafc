"""Two real processes on localhost, joined by `jax.distributed.initialize` with CPU
collectives (gloo), train the digits MLP data-parallel: 2 devices per process, 4 in all.

Each process feeds its half of every global batch of 128 (`two_process_worker.py`). The
processes must end with the same weights, equal to a single-device fit on the whole batches
(within `digits.ATOL`: the all-reduce adds the per-device parts in another order); only
process 0 prints progress and writes the model file, and every process restores it.
"""
import socket
import subprocess
import sys
from pathlib import Path

import digits
import numpy as np
import pytest
from test_multidevice import child_env

HERE = Path(__file__).resolve().parent


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_processes")
    port = _free_port()
    procs = [subprocess.Popen(
        [sys.executable, str(HERE / "two_process_worker.py"), str(i), "2", str(port), str(out)],
        cwd=HERE, env=child_env(2), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True) for i in range(2)]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=300)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    report = "\n".join(f"--- process {i} (exit {p.returncode}):\n{text[-4000:]}"
                       for i, (p, text) in enumerate(zip(procs, outputs, strict=True)))
    assert all(p.returncode == 0 for p in procs), report
    return [np.load(out / f"process_{i}.npz") for i in range(2)], outputs, out


def test_processes_agree_with_each_other_and_with_one_device(two_processes):
    results, _, _ = two_processes
    first, second = results
    assert int(first["devices"]) == 4 and int(first["local_devices"]) == 2
    names = [f"w{i}" for i in range(4)]
    for name in names:  # replicated weights: the same bits in both processes
        assert np.array_equal(first[name], second[name]), name
    x, y = digits.data()
    single = digits.build()
    history = single.fit(x, y, batch_size=128, epochs=2, shuffle=False, verbose=0)
    assert digits.max_diff(single.get_weights(), [first[n] for n in names]) < digits.ATOL
    np.testing.assert_allclose(first["loss"], history.history["loss"], rtol=1e-5)
    # evaluate covers the samples of both processes; predict returns each process's rows
    loss, accuracy = single.evaluate(x, y, batch_size=128, verbose=0)
    np.testing.assert_allclose(first["evaluation"], [loss, accuracy], rtol=1e-5)
    np.testing.assert_allclose(second["evaluation"], [loss, accuracy], rtol=1e-5)
    expected = single.predict(x, batch_size=128, verbose=0)
    for result in results:
        np.testing.assert_allclose(result["predictions"], expected[result["rows"]], atol=1e-5)


def test_only_process_zero_reports_and_writes_but_all_restore(two_processes):
    results, outputs, out = two_processes
    assert "Epoch 2/2" in outputs[0]
    assert "Epoch" not in outputs[1]
    assert sorted(p.name for p in out.iterdir()) == ["model.lamina", "process_0.npz",
                                                    "process_1.npz"]
    for result in results:
        for i in range(4):
            assert np.array_equal(result[f"loaded{i}"], result[f"w{i}"])
