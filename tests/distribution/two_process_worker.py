"""One process of a two-process data-parallel run on localhost (started by
test_multiprocess.py, which sets XLA_FLAGS to 2 CPU devices per process).

Usage: two_process_worker.py PROCESS_ID NUM_PROCESSES PORT OUT_DIR

The processes join with `jax.distributed.initialize` (CPU collectives over gloo), train the
digits MLP under DataParallel with each process feeding its half of every global batch of
128, then process 0 alone saves the model and every process loads it back. Each process
writes what it saw to OUT_DIR/process_<id>.npz for the parent test to compare.
(Run it as a script: the parent starts one per process, with XLA_FLAGS giving each process
2 CPU devices.)
"""
import sys

import jax

process_id, num_processes, port, out_dir = (int(sys.argv[1]), int(sys.argv[2]),
                                            int(sys.argv[3]), sys.argv[4])
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}",
                           num_processes=num_processes, process_id=process_id,
                           initialization_timeout=60)

# the rest is imported after jax.distributed.initialize, as the recipe asks
import digits  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

import lamina as lm  # noqa: E402
from lamina import distribution as ld  # noqa: E402

GLOBAL_BATCH = 128


def local_rows(n):
    """The rows this process feeds: its slice of every global batch, in order."""
    part = GLOBAL_BATCH // num_processes
    return np.concatenate([np.arange(start + process_id * part, start + (process_id + 1) * part)
                           for start in range(0, n, GLOBAL_BATCH)])


x, y = digits.data()
rows = local_rows(len(x))
model = digits.build()
with ld.scope(ld.DataParallel()):
    history = model.fit(x[rows], y[rows], batch_size=GLOBAL_BATCH // num_processes, epochs=2,
                        shuffle=False, verbose=2)
    evaluation = model.evaluate(x[rows], y[rows], batch_size=64, verbose=0)
    predictions = model.predict(x[rows], batch_size=64, verbose=0)
path = f"{out_dir}/model.lamina"
if jax.process_index() == 0:  # only process 0 writes files
    model.save(path)
multihost_utils.sync_global_devices("model saved")
loaded = lm.models.load_model(path)  # every process restores
np.savez(f"{out_dir}/process_{process_id}.npz", rows=rows, loss=history.history["loss"],
         evaluation=np.asarray(evaluation), predictions=predictions,
         devices=jax.device_count(), local_devices=jax.local_device_count(),
         **{f"w{i}": w for i, w in enumerate(model.get_weights())},
         **{f"loaded{i}": w for i, w in enumerate(loaded.get_weights())})
multihost_utils.sync_global_devices("done")
