"""DataParallel: every device holds all variables and works on its slice of each batch."""
from lamina.distribution.base import Distribution
from lamina.distribution.mesh import DeviceMesh, list_devices
from lamina.errors import ConfigurationError


class DataParallel(Distribution):
    """Split each batch over the devices; replicate variables and optimizer state.

    Each device computes the gradient of its slice of the batch; XLA adds them up (an
    all-reduce) so that every replica applies the same update. With the same global batch
    the result is the single-device result up to float summation order.

    Args:
        devices: the devices to use (default: every device of the run). Mutually exclusive
            with `mesh`.
        mesh: a one-axis `DeviceMesh`; its axis is the batch axis.

    Example:
        with lamina.distribution.scope(DataParallel()):
            model.fit(x, y, batch_size=128)   # 128 = the global batch, 32 per device on 4
    """

    def __init__(self, devices=None, mesh=None):
        if devices is not None and mesh is not None:
            raise ConfigurationError(
                "DataParallel: pass either `devices` or `mesh`, not both (received both).")
        if mesh is None:
            devices = list_devices() if devices is None else list(devices)
            mesh = DeviceMesh((len(devices),), ("batch",), devices)
        elif not isinstance(mesh, DeviceMesh):
            raise ConfigurationError(
                f"DataParallel: expected mesh to be a lamina.distribution.DeviceMesh, received "
                f"{mesh!r} (of type {type(mesh).__name__}).")
        elif len(mesh.shape) != 1:
            raise ConfigurationError(
                f"DataParallel: expected a mesh with one axis (the batch axis), received "
                f"{mesh}. For a mesh with a model axis use ModelParallel.")
        super().__init__(mesh, mesh.axis_names[0])

    def __repr__(self):
        return f"DataParallel(mesh={self.mesh})"
