"""Distribution: the common part of DataParallel and ModelParallel.

A distribution says how arrays sit on a `DeviceMesh`: a batch is split along its first
dimension over the mesh axis `batch_dim_name`; each variable (and its optimizer state) gets
a layout from `variable_specs` (replicated unless a subclass says otherwise). XLA inserts the
collectives (the gradient all-reduce, the gathers of sharded weights) from these layouts.
"""
import contextlib

import jax
from jax.sharding import NamedSharding, PartitionSpec

from lamina.distribution import context as scope_lib
from lamina.errors import ConfigurationError, InputSpecError


class Distribution:
    """Base class; use `DataParallel` or `ModelParallel`."""

    def __init__(self, mesh, batch_dim_name):
        self.mesh = mesh
        self.batch_dim_name = batch_dim_name
        self.batch_sharding = NamedSharding(mesh.jax_mesh, PartitionSpec(batch_dim_name))
        self.replicated = NamedSharding(mesh.jax_mesh, PartitionSpec())

    @property
    def batch_shards(self):
        """How many pieces a global batch is split into."""
        return self.mesh.axis_size(self.batch_dim_name)

    def scope(self):
        """`with distribution.scope():` is `with lamina.distribution.scope(distribution):`."""
        return scope(self)

    def variable_specs(self, owner, shapes):
        """path -> partition spec for the variables (path -> shape) of model `owner` that
        are not replicated."""
        return {}

    def sharding(self, spec):
        return NamedSharding(self.mesh.jax_mesh, PartitionSpec(*spec))

    @property
    def key(self):
        """A value identifying the layout decisions (compiled steps are cached by it)."""
        return (type(self).__name__, self.mesh.key, self.batch_dim_name)

    def check_batch(self, samples, owner, batch_size=None, total=None):
        """Refuse a batch (global size `samples`) that the batch axis does not divide.

        `batch_size` and `total` (the number of samples of the data), when known, let the
        message say which batch is at fault.
        """
        shards = self.batch_shards
        if samples % shards == 0:
            return
        where = ""
        if total is not None and batch_size is not None and samples != batch_size:
            where = (f" (the last batch: {total} samples in batches of {batch_size} leave "
                     f"{samples})")
        raise InputSpecError(
            f"Model '{owner}' under {type(self).__name__}: a batch of {samples} samples"
            f"{where} cannot be split evenly over the {shards} devices of mesh axis "
            f"'{self.batch_dim_name}'. Use a batch_size that is a multiple of {shards} and a "
            f"number of samples that is a multiple of the batch_size (drop the remainder), "
            "or a mesh whose batch axis divides the batch.")

    def check_data(self, total, batch_size, owner):
        """`check_batch` for every batch of `total` samples cut into `batch_size` (the
        global batch size is the per-process one times the number of processes)."""
        scale = jax.process_count()
        self.check_batch(min(batch_size, total) * scale, owner)
        if total % batch_size:
            self.check_batch((total % batch_size) * scale, owner, batch_size * scale,
                             total * scale)


@contextlib.contextmanager
def scope(distribution):
    """Run the enclosed fit / evaluate / predict / *_on_batch calls with `distribution`.

    Example:
        with lamina.distribution.scope(lamina.distribution.DataParallel()):
            model.fit(x, y, batch_size=128)
    """
    if not isinstance(distribution, Distribution):
        raise ConfigurationError(
            "distribution.scope: expected a DataParallel or ModelParallel instance, received "
            f"{distribution!r} (of type {type(distribution).__name__}).")
    with scope_lib.entered(distribution):
        yield distribution
