"""Data-parallel and model-parallel training on `jax.sharding` (see docs/distribution.md).

    with lamina.distribution.scope(lamina.distribution.DataParallel()):
        model.fit(x, y, batch_size=128)

A distribution applies to fit / evaluate / predict / train_on_batch / test_on_batch /
predict_on_batch without changes to model code. `model.compile(..., distribution=d)` wins
over an active `scope`; with neither, lamina runs on one device as usual.
"""
from lamina.distribution.base import Distribution as Distribution
from lamina.distribution.base import scope as scope
from lamina.distribution.context import current as current
from lamina.distribution.data_parallel import DataParallel as DataParallel
from lamina.distribution.layout import LayoutMap as LayoutMap
from lamina.distribution.mesh import DeviceMesh as DeviceMesh
from lamina.distribution.mesh import list_devices as list_devices
from lamina.distribution.model_parallel import ModelParallel as ModelParallel
