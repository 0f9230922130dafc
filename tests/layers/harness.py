"""The generic layer harness: one set of checks applied to every layer configuration.

Each family's test module (`tests/layers/test_<family>.py`) has a table `HARNESS_CASES` of
`LayerCase` rows and runs `check_layer` on each. `check_layer` verifies, for one row:

1. the layer builds from the row's inputs; output shape and dtype (eager and symbolic);
2. exact trainable and non-trainable parameter counts;
3. `get_config` -> `from_config` gives an identical config, and the clone with copied weights
   gives bitwise-identical outputs; the saving registry round-trips it too;
4. one real training step of a model that uses the layer changes every trainable weight of
   the layer (and its non-trainable ones only when the row says it keeps moving statistics);
5. with the layer frozen (its own flag, then a scoped `model.freeze`), the same step leaves
   every weight of the layer bitwise unchanged while the rest of the model still trains;
6. masks where the row gives one: the output mask (`compute_mask`) equals the expected one.

Numerical agreement with independent references is tested per family, beside the table.
"""
import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

import lamina as lm
from lamina.core import registry


@dataclasses.dataclass
class LayerCase:
    id: str
    make: Callable  # () -> a fresh, unbuilt layer
    inputs: Callable  # (np.random.Generator) -> array or list of arrays (batch first)
    out_shape: object  # shape tuple with the batch, or a list of them for several outputs
    trainable_params: int
    non_trainable_params: int = 0
    out_dtype: str = "float32"
    call_kwargs: dict = dataclasses.field(default_factory=dict)
    # the layer updates non-trainable weights (moving statistics) in a training step
    updates_state: bool = False
    # (inputs) -> mask of the first input, and (inputs, mask) -> the expected output mask
    mask: Optional[Callable] = None
    expected_mask: Optional[Callable] = None
    # the value `layer.supports_masking` must have (None: not checked)
    supports_masking: Optional[bool] = None

    def __str__(self):
        return self.id


class _FlattenHead(lm.layers.Layer):
    """Flattens every output of the tested layer into one float vector per sample; consumes
    masks (a harness-only helper)."""

    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        return None

    def call(self, inputs):
        leaves = jax.tree_util.tree_leaves(inputs)
        return jnp.concatenate(
            [x.reshape(x.shape[0], -1).astype(jnp.float32) for x in leaves], axis=-1)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _shapes(out):
    return [tuple(o.shape) for o in _as_list(out)]


def _symbolic_inputs(inputs):
    return [lm.Input(a.shape[1:], dtype=np.dtype(a.dtype).name) for a in _as_list(inputs)]


def _one(xs, like):
    return xs if isinstance(like, (list, tuple)) else xs[0]


def _snapshot(layer):
    return [np.array(v.value) for v in layer.weights]


def _params(weights):
    return int(sum(np.prod(v.shape, dtype=np.int64) for v in weights))


def check_layer(case):
    rng = np.random.default_rng(0)
    inputs = case.inputs(rng)
    layer = case.make()

    # 1. output shape and dtype, eagerly and symbolically
    out = layer(inputs, **case.call_kwargs)
    expected_shapes = [tuple(s) for s in _as_list(case.out_shape)] if isinstance(
        case.out_shape, list) else [tuple(case.out_shape)]
    assert _shapes(out) == expected_shapes, f"{case.id}: output shapes {_shapes(out)}"
    for o in _as_list(out):
        assert np.dtype(o.dtype).name == case.out_dtype, f"{case.id}: dtype {o.dtype}"
    sym_in = _symbolic_inputs(inputs)
    sym_out = case.make()(_one(sym_in, inputs), **case.call_kwargs)
    assert [tuple(t.shape) for t in _as_list(sym_out)] == [
        (None,) + s[1:] for s in expected_shapes], f"{case.id}: symbolic shapes"

    # 2. exact parameter counts
    assert _params(layer.trainable_weights) == case.trainable_params, (
        f"{case.id}: trainable params {_params(layer.trainable_weights)}")
    assert _params(layer.non_trainable_weights) == case.non_trainable_params, (
        f"{case.id}: non-trainable params {_params(layer.non_trainable_weights)}")
    assert layer.count_params() == case.trainable_params + case.non_trainable_params
    if case.supports_masking is not None:
        assert layer.supports_masking == case.supports_masking

    # 3. config round trip: identical config, identical outputs with copied weights
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config, f"{case.id}: config changed on from_config"
    clone(inputs, **case.call_kwargs)
    clone.set_weights(layer.get_weights())
    kwargs = {**case.call_kwargs, "training": False}
    ours, theirs = _as_list(layer(inputs, **kwargs)), _as_list(clone(inputs, **kwargs))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    rebuilt = registry.deserialize(registry.serialize(layer))
    assert type(rebuilt) is type(layer) and rebuilt.get_config() == config

    # 4. one training step changes every trainable weight of the layer
    model, x, y = _training_model(case, inputs)
    tested = model.get_layer(index=len(_as_list(inputs)))
    before = _snapshot(tested)
    model.train_on_batch(x, y)
    after = _snapshot(tested)
    trained_ids = {id(v) for v in tested.trainable_weights}
    for v, b, a in zip(tested.weights, before, after, strict=True):
        if id(v) in trained_ids:
            assert not np.array_equal(a, b), f"{case.id}: trainable '{v.path}' did not change"
        elif not case.updates_state:
            np.testing.assert_array_equal(a, b, err_msg=f"{case.id}: '{v.path}' changed")

    # 5. frozen (own flag, then a scoped freeze): bitwise unchanged, the head still trains
    head = model.layers[-1]
    for freeze, thaw in ((lambda: setattr(tested, "trainable", False),
                          lambda: setattr(tested, "trainable", True)),
                         (lambda: model.freeze(tested), lambda: model.unfreeze(tested))):
        freeze()
        before, head_before = _snapshot(tested), _snapshot(head)
        model.train_on_batch(x, y)
        for v, b, a in zip(tested.weights, before, _snapshot(tested), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"{case.id}: frozen '{v.path}' changed")
        assert not np.array_equal(_snapshot(head)[0], head_before[0])
        thaw()

    # 6. masks
    if case.mask is not None:
        first = _as_list(inputs)[0]
        mask = case.mask(first)
        got = layer.compute_mask(inputs, mask) if layer.supports_masking else None
        expected = case.expected_mask(inputs, mask)
        if expected is None:
            assert got is None, f"{case.id}: expected no output mask"
        else:
            np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
            masked_out = model(x, mask=mask)
            assert np.all(np.isfinite(np.asarray(masked_out)))


def _training_model(case, inputs):
    """Inputs -> tested layer -> flatten -> Dense(1), compiled with SGD on mse."""
    sym_in = _symbolic_inputs(inputs)
    tested = case.make()
    outputs = tested(_one(sym_in, inputs), **case.call_kwargs)
    prediction = lm.layers.Dense(1, name="harness_head")(_FlattenHead()(outputs))
    model = lm.Model(_one(sym_in, inputs), prediction)
    model.compile(optimizer=lm.optimizers.SGD(0.05), loss="mse")
    batch = _as_list(inputs)[0].shape[0]
    y = np.random.default_rng(1).normal(size=(batch, 1)).astype(np.float32)
    return model, inputs, y
