"""The call scope: which values variables read, where updates go, and the current use path.

Every top-level call of a layer opens a `CallScope`; nested layer calls push frames onto it.
A frame records the layer, the `training` value it runs with (and whether the caller passed
it explicitly) and whether the *use path* from the scope's root to this layer is open
(docs/design.md rule 3, evaluated by `lamina.trainability.enter`). Reading a variable inside a
closed path returns `stop_gradient(value)` (rule 4).

A pure scope (`values` given) substitutes values and collects updates instead of mutating
variables, so the whole model is a pure function under `jax.jit` / `jax.grad`. It reads a
variable missing from `values` from its stored value only when the variable's layer is
tracked by the scope's root (reachable through `lamina.core.tree.sublayers`): that is how a
shape-tracing scope (`values == {}`) builds a model. A layer the root does not track (held
inside a plain helper object, a closure or a global) raises `UntrackedVariableError`: it is
missing from the root's weights, so it would run on its stored value and never train.
"""
import contextlib
import contextvars
import dataclasses

import jax

from lamina import trainability
from lamina.core import tree
from lamina.errors import MSG_UNTRACKED_VARIABLE, UntrackedVariableError

_CURRENT = contextvars.ContextVar("lamina_call_scope", default=None)


@dataclasses.dataclass
class Frame:
    layer: object
    training: object
    training_explicit: bool
    path: object  # lamina.trainability.PathState


class CallScope:
    def __init__(self, values=None):
        self.values = values  # uid -> array, or None for an eager call on stored values
        self.updates = {}  # uid -> new array (pure scopes only)
        self.losses = []  # scalars added by `Layer.add_loss` (activity penalties, ...)
        self.output_masks = {}  # id(model) -> output masks of its most recent call
        self.frames = []
        self._tracked = {}  # id(root) -> ids of the layers the root tracks (computed on a miss)

    # -- variable access -------------------------------------------------------------
    def read(self, variable):
        uid = variable.uid
        if uid in self.updates:
            value = self.updates[uid]
        elif self.values is not None and uid in self.values:
            value = self.values[uid]
        else:
            if self.values is not None:
                self._check_tracked(variable)
            value = variable._value
        if self.frames:
            frame = self.frames[-1]
            if not frame.path.open:
                value = jax.lax.stop_gradient(value)
            policy = frame.layer.dtype_policy
            if policy.is_mixed and variable.autocast and value.dtype != policy.compute_dtype:
                value = value.astype(policy.compute_dtype)
        return value

    def _check_tracked(self, variable):
        """Raise unless the root of this pure scope tracks `variable`'s layer."""
        if not self.frames:
            return
        root = self.frames[0].layer
        tracked = self._tracked.get(id(root))
        if tracked is None:
            tracked = self._tracked[id(root)] = frozenset(map(id, tree.all_layers(root)))
        if id(variable.owner) not in tracked:
            raise UntrackedVariableError(MSG_UNTRACKED_VARIABLE.format(
                layer=variable.owner.name, path=variable.path, root=root.name,
                via=" > ".join(frame.layer.name for frame in self.frames)))

    def write(self, variable, value):
        """Record an update; returns False when the caller should store it directly."""
        if self.values is None:
            return False
        self.updates[variable.uid] = value
        return True

    # -- frames --------------------------------------------------------------------------
    @property
    def frame(self):
        return self.frames[-1] if self.frames else None


def current():
    return _CURRENT.get()


def current_frame():
    scope = _CURRENT.get()
    return scope.frame if scope is not None else None


class activate:
    """Context manager making `scope` the current one."""

    def __init__(self, scope):
        self.scope = scope

    def __enter__(self):
        self._token = _CURRENT.set(self.scope)
        return self.scope

    def __exit__(self, *exc):
        _CURRENT.reset(self._token)
        return False


@contextlib.contextmanager
def as_part_of(layer, training):
    """Run the block as part of `layer`'s call without calling it: reads of its variables see
    the use path through `layer` (constants where it is frozen on that path, docs/design.md
    rule 4), exactly as inside `layer(...)`. For layers that drive a sublayer's weights directly (an
    RNN running its cell's step functions inside `lax.scan`)."""
    scope = current()
    if scope is None or scope.frame is None:  # outside any layer call: stored values
        yield
        return
    scope.frames.append(Frame(layer, training, True, trainability.enter(scope.frame.path, layer)))
    try:
        yield
    finally:
        scope.frames.pop()
