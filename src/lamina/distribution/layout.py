"""LayoutMap: which variables are sharded, and how, chosen by patterns on variable paths."""
import math
import re

from lamina.errors import ConfigurationError


def _spec(pattern, spec):
    """A partition spec as a tuple whose entries are None, an axis name or a tuple of names."""
    if isinstance(spec, str) or not isinstance(spec, (tuple, list)):
        raise ConfigurationError(
            f"LayoutMap[{pattern!r}]: expected a tuple with one entry per dimension (None, "
            f"a mesh axis name or a tuple of names), e.g. (None, 'model'); received {spec!r} "
            f"(of type {type(spec).__name__}).")
    out = []
    for entry in spec:
        names = entry if isinstance(entry, (tuple, list)) else (entry,)
        if entry is not None and not all(isinstance(n, str) for n in names):
            raise ConfigurationError(
                f"LayoutMap[{pattern!r}]: entry {entry!r} of {tuple(spec)!r} is not None, an "
                "axis name or a tuple of axis names.")
        out.append(tuple(entry) if isinstance(entry, (tuple, list)) else entry)
    return tuple(out)


class LayoutMap:
    """Rules from variable paths to partition specs, for `ModelParallel`.

    A key is a regular expression searched (`re.search`) in each variable's path within the
    model being run: the path that `save_weights` uses, e.g. "dense_1/kernel" or
    "encoder/dense/kernel". A key equal to a path wins over patterns; otherwise at most one
    pattern may match a variable. The value gives, per dimension, the mesh axis (or axes)
    that dimension is split over, or None to keep it whole; missing trailing entries mean
    None. Variables that no rule matches are replicated.

    Example:
        layout = LayoutMap({"dense.*kernel": (None, "model"), "dense.*bias": ("model",)})

    Args:
        rules: a dict of pattern -> spec (more can be set with `layout[pattern] = spec`).
        mesh: optionally the `DeviceMesh` these rules were written for; `ModelParallel`
            refuses a different mesh.
    """

    def __init__(self, rules=None, mesh=None):
        self.mesh = mesh
        self._rules = {}
        for pattern, spec in dict(rules or {}).items():
            self[pattern] = spec

    def __setitem__(self, pattern, spec):
        if not isinstance(pattern, str):
            raise ConfigurationError(f"LayoutMap: expected a string pattern as key, received "
                                     f"{pattern!r} (of type {type(pattern).__name__}).")
        try:
            re.compile(pattern)
        except re.error as err:
            raise ConfigurationError(f"LayoutMap: the key {pattern!r} is not a valid regular "
                                     f"expression: {err}.") from err
        self._rules[pattern] = _spec(pattern, spec)

    def __getitem__(self, pattern):
        return self._rules[pattern]

    def __len__(self):
        return len(self._rules)

    def __iter__(self):
        return iter(self._rules)

    def items(self):
        return self._rules.items()

    def match(self, path):
        """The (pattern, spec) rule for the variable at `path`, or None (replicated)."""
        if path in self._rules:
            return path, self._rules[path]
        found = [(p, s) for p, s in self._rules.items() if re.search(p, path)]
        if len(found) > 1:
            raise ConfigurationError(
                f"LayoutMap: the variable '{path}' is matched by several rules "
                f"{[p for p, _ in found]}; a variable needs exactly one layout. Make the "
                "patterns more specific (anchor them, e.g. '^dense_1/kernel$').")
        return found[0] if found else None

    def resolve(self, shapes, owner):
        """path -> spec for the variables of `shapes` (path -> shape) that a rule matches.

        Raises `ConfigurationError` for a variable matched by two rules, a rule matching no
        variable (naming `owner`, the model), or a spec longer than its variable's rank.
        """
        specs, used = {}, set()
        for path, shape in shapes.items():
            found = self.match(path)
            if found is None:
                continue
            pattern, spec = found
            used.add(pattern)
            if len(spec) > len(shape):
                raise ConfigurationError(
                    f"LayoutMap[{pattern!r}]: the spec {spec} has {len(spec)} entries but the "
                    f"variable '{path}' of model '{owner}' has shape {tuple(shape)} "
                    f"(rank {len(shape)}). Give at most one entry per dimension.")
            specs[path] = spec
        unused = [p for p in self._rules if p not in used]
        if unused:
            sample = list(shapes)[:8]
            raise ConfigurationError(
                f"LayoutMap: the rules {unused} match no variable of model '{owner}' (a typo, "
                f"or rules meant for another model?). Its variables are paths like {sample}.")
        return specs


def check_spec(path, shape, spec, mesh):
    """Refuse unknown or repeated axis names and dimensions the mesh does not divide."""
    seen = []
    for dim, entry in enumerate(spec):
        names = () if entry is None else entry if isinstance(entry, tuple) else (entry,)
        for name in names:
            if name not in mesh.axis_names:
                raise ConfigurationError(
                    f"LayoutMap: the variable '{path}' is laid out over axis {name!r}, which "
                    f"the mesh does not have (its axes are {mesh.axis_names}).")
            if name in seen:
                raise ConfigurationError(
                    f"LayoutMap: the spec {spec} of variable '{path}' uses axis {name!r} "
                    "twice; each mesh axis may split one dimension.")
            seen.append(name)
        parts = math.prod(mesh.axis_size(n) for n in names)
        if shape[dim] % parts:
            raise ConfigurationError(
                f"LayoutMap: the variable '{path}' has shape {tuple(shape)}; dimension {dim} "
                f"({shape[dim]}) cannot be split into {parts} equal parts over axes {names}. "
                "Use a size divisible by the axis size or leave that dimension None.")
