"""`SeedGenerator`: random state as a non-trainable variable, and the one way every random
function of `lamina.random` turns its `seed` argument into a key.

A generator's state is a variable of kind "seed" held by a layer: it travels through a
compiled step with the other non-trained values, each draw advances it (an assignment the
step returns, like a moving statistic), and it is saved with the model and in checkpoints.
A layer holds one as Keras code does, `self.seed_generator = SeedGenerator(1337)` in
`__init__`; the layer adopts its state the first time its model's variables are listed
(`lamina.core.tree.own_variables`).
"""
import numbers

import jax
import numpy as np
from jax.core import Tracer

from lamina.core import naming, rng, trainability_version, tree
from lamina.core import scope as scope_lib
from lamina.core.registry import register_serializable
from lamina.core.variables import Variable
from lamina.errors import ConfigurationError, UsageError

_SEED_KINDS = "an int, None, a lamina.random.SeedGenerator or a key array of shape (2,)"


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@register_serializable()
class SeedGenerator:
    """Keras 3's `keras.random.SeedGenerator`: a stream of keys whose state is a variable.

    Args:
        seed: initial seed (an int); None draws one from lamina's stream, so
            `lamina.random.set_seed` / `lamina.utils.set_random_seed` make it reproducible.
        name: the generator's name.
        owner: (lamina) the layer that holds the state, for layers that create generators
            outside an attribute. Without it the layer holding the generator in an attribute
            adopts the state.

    Its `state` variable (non-trainable, kind "seed") is named `<attribute>_state` in the
    layer that holds it: `seed_generator_state` for `self.seed_generator`.
    """

    def __init__(self, seed=None, name=None, owner=None, **kwargs):
        if kwargs:
            raise ConfigurationError(
                f"SeedGenerator: unrecognized keyword arguments {sorted(kwargs)}; expected "
                "`seed`, `name` (and lamina's `owner`).")
        if seed is None:
            seed = rng.next_seed()
        elif not _is_int(seed):
            raise ConfigurationError(
                f"SeedGenerator: expected an int seed or None, received {seed!r} (of type "
                f"{type(seed).__name__}).")
        self._initial_seed = int(seed)
        self.name = name if name is not None else naming.unique_name("seed_generator")
        with jax.ensure_compile_time_eval():
            key = jax.random.PRNGKey(self._initial_seed)
        self.state = Variable(np.asarray(key), "seed_generator_state", trainable=False,
                              kind="seed")
        if owner is not None:
            self._adopt_state(owner, "seed_generator")

    def _adopt_state(self, layer, label):
        """Make `layer` own the state (once), named after the attribute that holds it."""
        if self.state.owner is not None:
            return
        self.state.owner = layer
        self.state.name = f"{label}_state"
        layer._variables.append(self.state)
        trainability_version.bump()

    def _check_owned(self):
        if self.state.owner is not None:
            return
        scope = scope_lib.current()
        frame = scope.frame if scope is not None else None
        if frame is not None:
            tree.own_variables(frame.layer)  # the calling layer holds it in an attribute
        if self.state.owner is None and scope is not None and scope.values is not None:
            raise UsageError(
                f"SeedGenerator '{self.name}' was used inside a compiled call of layer "
                f"'{frame.layer.name if frame else '?'}', but no layer holds it, so its state "
                "cannot travel with the model. Create it in the layer's `__init__` and keep "
                "it in an attribute: `self.seed_generator = SeedGenerator(seed)`.")

    def next(self, ordered=True):
        """A fresh key; advances the state (recorded in the step inside a compiled call)."""
        self._check_owned()
        key, new_state = jax.random.split(self.state.value)
        self.state.assign(new_state)
        return key

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name} seed={self._initial_seed}>"



def draw_key(seed, where="lamina.random"):
    """The key a random function draws with, from its `seed` argument (Keras's rules): a
    SeedGenerator advances; an int always gives the same key; None draws from lamina's stream
    eagerly and is refused inside a compiled function, where it would be frozen into the
    compiled program."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if _is_int(seed):
        return jax.random.PRNGKey(int(seed))
    if seed is None:
        if isinstance(jax.numpy.zeros(()), Tracer):
            raise UsageError(
                f"{where}: seed=None inside a compiled function (a layer's call under fit, or "
                "jax.jit) would repeat the same draw at every step. Pass a "
                "`lamina.random.SeedGenerator` held by the layer: "
                "`self.seed_generator = SeedGenerator(1337)` in `__init__`, then "
                "`seed=self.seed_generator` in `call`.")
        return jax.random.PRNGKey(rng.next_seed())
    if hasattr(seed, "shape") and tuple(seed.shape) == (2,):
        return jax.numpy.asarray(seed, "uint32")
    raise ConfigurationError(
        f"{where}: expected seed to be {_SEED_KINDS}, received {seed!r} (of type "
        f"{type(seed).__name__}).")
