"""DeviceMesh: named axes over a grid of devices (a thin, checked `jax.sharding.Mesh`)."""
import math

import jax
import numpy as np

from lamina.errors import ConfigurationError


def list_devices(device_type=None):
    """Every device of the run (all processes), optionally of one type ("cpu", "gpu", "tpu")."""
    return list(jax.devices(device_type) if device_type else jax.devices())


def check_devices(devices, owner):
    """`devices` as a list, or an error for an empty list, repeats or mixed platforms."""
    devices = list(devices)
    if not devices:
        raise ConfigurationError(f"{owner}: expected at least one device, received none.")
    not_devices = [d for d in devices if not isinstance(d, jax.Device)]
    if not_devices:
        raise ConfigurationError(
            f"{owner}: expected jax devices (from lamina.distribution.list_devices()), "
            f"received {not_devices[0]!r} (of type {type(not_devices[0]).__name__}).")
    ids = [d.id for d in devices]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigurationError(
            f"{owner}: device ids {repeated} appear more than once in {ids}. Each device "
            "can hold one position of a mesh; pass distinct devices.")
    platforms = sorted({d.platform for d in devices})
    if len(platforms) > 1:
        raise ConfigurationError(
            f"{owner}: devices of different platforms {platforms} cannot form one mesh "
            "(XLA runs one program on one kind of device). Pick devices of one platform, "
            "e.g. list_devices('gpu').")
    return devices


class DeviceMesh:
    """A grid of devices with named axes, e.g. 8 GPUs as `DeviceMesh((2, 4), ("batch", "model"))`.

    Args:
        shape: the size of each axis; their product is the number of devices.
        axis_names: one name per axis ("batch" for the data axis, "model" for sharded weights).
        devices: the devices, filled into the grid in row-major order; default: every device
            of the run (`list_devices()`).

    Raises:
        ConfigurationError: a shape that does not match the number of devices, axis names
            that are missing, repeated or of the wrong count, or devices that are repeated or
            of different platforms.
    """

    def __init__(self, shape, axis_names, devices=None):
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        axis_names = (axis_names,) if isinstance(axis_names, str) else tuple(axis_names)
        if len(axis_names) != len(shape) or not all(isinstance(n, str) for n in axis_names):
            raise ConfigurationError(
                f"DeviceMesh: expected one axis name (a string) per axis of shape {shape}, "
                f"received axis_names {axis_names!r}.")
        if len(set(axis_names)) != len(axis_names):
            raise ConfigurationError(f"DeviceMesh: axis names {axis_names} repeat a name; "
                                     "each axis needs its own.")
        devices = check_devices(list_devices() if devices is None else devices, "DeviceMesh")
        if math.prod(shape) != len(devices) or min(shape) < 1:
            raise ConfigurationError(
                f"DeviceMesh: shape {shape} holds {math.prod(shape)} devices, received "
                f"{len(devices)} devices. Pick a shape whose product is {len(devices)} or "
                "pass that many devices.")
        self.shape = shape
        self.axis_names = axis_names
        self.devices = np.array(devices, dtype=object).reshape(shape)
        self.jax_mesh = jax.sharding.Mesh(self.devices, axis_names)

    def axis_size(self, name):
        return self.shape[self.axis_names.index(name)]

    @property
    def key(self):
        """A value that identifies the mesh (for caches): device ids, shape and axis names."""
        return (tuple(d.id for d in self.devices.flat), self.shape, self.axis_names)

    def __eq__(self, other):
        return isinstance(other, DeviceMesh) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        ids = [d.id for d in self.devices.flat]
        return f"DeviceMesh(shape={self.shape}, axis_names={self.axis_names}, device_ids={ids})"
