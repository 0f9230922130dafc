"""ModelParallel: variables laid out over mesh axes by a LayoutMap; batches over one axis."""
from lamina.distribution.base import Distribution
from lamina.distribution.layout import LayoutMap, check_spec
from lamina.distribution.mesh import DeviceMesh
from lamina.errors import ConfigurationError


class ModelParallel(Distribution):
    """Shard the variables that `layout_map` names (and their optimizer state) over the mesh.

    Batches are split along `batch_dim_name`; along the other axes every device sees the
    whole batch and holds a slice of each sharded weight. XLA inserts the communication the
    layouts need. Variables that no rule matches are replicated.

    Args:
        layout_map: a `LayoutMap` (or a dict, turned into one) of variable-path patterns.
            Every rule must match at least one variable of each model run with this
            distribution, and no variable may be matched by two rules.
        mesh: the `DeviceMesh`; default: the layout map's mesh.
        batch_dim_name: the mesh axis that splits batches; default: the mesh's first axis.

    Example:
        mesh = DeviceMesh((2, 2), ("batch", "model"))
        layout = LayoutMap({"dense.*kernel": (None, "model"), "dense.*bias": ("model",)})
        model.compile(..., distribution=ModelParallel(layout_map=layout, mesh=mesh))
    """

    def __init__(self, layout_map, mesh=None, batch_dim_name=None):
        if isinstance(layout_map, dict):
            layout_map = LayoutMap(layout_map)
        if not isinstance(layout_map, LayoutMap):
            raise ConfigurationError(
                "ModelParallel: expected layout_map to be a LayoutMap or a dict of pattern -> "
                f"spec, received {layout_map!r} (of type {type(layout_map).__name__}).")
        if mesh is None:
            mesh = layout_map.mesh
        if not isinstance(mesh, DeviceMesh):
            raise ConfigurationError(
                f"ModelParallel: expected mesh to be a DeviceMesh (or a LayoutMap built with "
                f"one), received {mesh!r} (of type {type(mesh).__name__}).")
        if layout_map.mesh is not None and layout_map.mesh != mesh:
            raise ConfigurationError(
                f"ModelParallel: the layout map was written for {layout_map.mesh}, but the "
                f"distribution uses {mesh}. Devices of two different meshes cannot be mixed; "
                "build the LayoutMap with the same mesh (or without one).")
        if batch_dim_name is None:
            batch_dim_name = mesh.axis_names[0]
        if batch_dim_name not in mesh.axis_names:
            raise ConfigurationError(
                f"ModelParallel: batch_dim_name {batch_dim_name!r} is not an axis of the mesh "
                f"(its axes are {mesh.axis_names}).")
        super().__init__(mesh, batch_dim_name)
        self.layout_map = layout_map
        for pattern, spec in layout_map.items():  # fail fast on unknown axis names
            for entry in spec:
                for name in (entry if isinstance(entry, tuple) else (entry,)):
                    if name is not None and name not in mesh.axis_names:
                        raise ConfigurationError(
                            f"ModelParallel: the rule {pattern!r}: {spec} names axis {name!r}, "
                            f"which the mesh does not have (its axes are {mesh.axis_names}).")

    def variable_specs(self, owner, shapes):
        specs = self.layout_map.resolve(shapes, owner)
        for path, spec in specs.items():
            check_spec(path, shapes[path], spec, self.mesh)
        return specs

    @property
    def key(self):
        return super().key + (tuple(self.layout_map.items()),)

    def __repr__(self):
        return (f"ModelParallel(layout_map={dict(self.layout_map.items())}, mesh={self.mesh}, "
                f"batch_dim_name={self.batch_dim_name!r})")
