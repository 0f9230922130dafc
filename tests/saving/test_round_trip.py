"""Save / load round trips: `model.save(path)` + `lm.models.load_model(path)`.

For every layer and every kind of model (Sequential with an Input or built lazily,
functional with shared layers, nested models, multi-input / dict multi-output, registered
subclasses) the loaded model must be indistinguishable from the original:

- predictions equal bit for bit, `get_config()` equal, every layer's config equal;
- every layer's and variable's `trainable` flag and every scoped freeze equal (docs/design.md
  section 2 rule 10), so `explain()` rows and the trainable / non-trainable partitions match;
- compile configuration (loss, metrics, optimizer class and learning rate), optimizer state
  and `_trainer.iterations` restored: training both models two more steps gives identical
  losses and bit-identical variables (weights, moving statistics, dropout seeds).

Also: uncompiled models load uncompiled, save_weights / load_weights with and without
`skip_mismatch`, refusals (raw optax optimizer, unregistered subclass, unregistered loss
function), registered loss functions, the archive's members (no pickle), and loading
leaving lamina's global state alone.
"""
import json
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina as lm
from lamina.core import rng, tree

Dense = lm.layers.Dense
L = lm.layers


# -- registered user code ----------------------------------------------------------------
@lm.saving.register_serializable()
class RoundTripMLP(lm.Model):
    """A subclassed model whose sublayers are attributes."""

    def __init__(self, units=5, out_units=2, **kwargs):
        super().__init__(**kwargs)
        self.units, self.out_units = units, out_units
        self.hidden = Dense(units, activation="relu", name="hidden")
        self.norm = L.BatchNormalization(name="norm")
        self.head = Dense(out_units, name="head")

    def call(self, inputs, training=None):
        return self.head(self.norm(self.hidden(inputs)))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "out_units": self.out_units}


@lm.saving.register_serializable()
class RoundTripStack(lm.Model):
    """A subclassed model holding a list of layers (paths "blocks/0", "blocks/1", ...)."""

    def __init__(self, depth=3, width=4, **kwargs):
        super().__init__(**kwargs)
        self.depth, self.width = depth, width
        self.blocks = [Dense(width, activation="tanh", name=f"block_{i}") for i in range(depth)]
        self.head = Dense(1, name="stack_head")

    def call(self, inputs, training=None):
        x = inputs
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth, "width": self.width}


class UnregisteredModel(lm.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = Dense(2)

    def call(self, inputs, training=None):
        return self.dense(inputs)


def round_trip_abs_loss(y_true, y_pred):
    return jnp.mean(jnp.abs(y_pred - y_true), axis=-1)


lm.saving.register_function(round_trip_abs_loss)


def unregistered_loss(y_true, y_pred):
    return jnp.mean(jnp.square(y_pred - y_true), axis=-1)


# -- data --------------------------------------------------------------------------------
def _x(n=8, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def _y(n=8, d=2, seed=1):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


# -- comparison helpers ------------------------------------------------------------------
def save_and_load(model, tmp_path, name="model.lamina"):
    path = tmp_path / name
    model.save(path)
    return lm.models.load_model(path), path


def assert_trees_equal(a, b, what):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b), what
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype, what
        assert np.array_equal(x, y), f"{what}: values differ"


def _layers(model):
    return dict(tree.labelled_layers(model))


def _variables(model):
    return {f"{path}/{v.name}" if path else v.name: v
            for path, layer in tree.labelled_layers(model) for v in layer._variables}


def _explain_rows(model):
    return [(row.name, row.path, row.trained, tuple(row.reasons)) for row in model.explain()]


def _describe(value):
    """A comparable description of a compile() argument (loss / metric / nesting)."""
    if isinstance(value, dict):
        return {k: _describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if isinstance(value, lm.losses._Function):
        return ("function", value.fn)
    if hasattr(value, "get_config"):
        return (type(value), value.get_config())
    return value


def assert_same_state(a, b):
    """Variables (values, flags, kinds) equal, path by path."""
    va, vb = _variables(a), _variables(b)
    assert sorted(va) == sorted(vb)
    for path in va:
        x, y = va[path], vb[path]
        assert (x.trainable, x.kind, x.shape, x.dtype) == \
            (y.trainable, y.kind, y.shape, y.dtype), path
        assert np.array_equal(x.numpy(), y.numpy()), f"variable {path} differs"


def assert_same_structure_and_flags(a, b):
    assert type(a) is type(b)
    assert a.get_config() == b.get_config()
    la, lb = _layers(a), _layers(b)
    assert list(la) == list(lb), "layer paths differ"
    for path in la:
        x, y = la[path], lb[path]
        assert type(x) is type(y), path
        assert x.name == y.name, path
        assert x.trainable == y.trainable, f"layer flag of {path!r}"
        assert x.get_config() == y.get_config(), f"config of {path!r}"
        assert [f.name for f in x._scoped_freezes] == [f.name for f in y._scoped_freezes], path
        if isinstance(x, lm.Model):
            assert [f.name for f in x.frozen_layers] == [f.name for f in y.frozen_layers], path
    assert_same_state(a, b)
    assert [v.path for v in a.trainable_weights] == [v.path for v in b.trainable_weights]
    assert [v.path for v in a.non_trainable_weights] == [v.path for v in b.non_trainable_weights]
    assert _explain_rows(a) == _explain_rows(b)
    assert str(a.explain()) == str(b.explain())


def assert_same_compile(a, b):
    assert a.compiled == b.compiled
    if not a.compiled:
        return
    ta, tb = a._trainer, b._trainer
    assert type(a.optimizer) is type(b.optimizer)
    assert a.optimizer.learning_rate == b.optimizer.learning_rate
    assert a.optimizer.get_config() == b.optimizer.get_config()
    assert _describe(ta._compile_args) == _describe(tb._compile_args)
    assert ta.seed == tb.seed
    assert tb.iterations == ta.iterations
    if ta.opt_state is not None:
        from lamina.saving import model_io

        oa, ob = model_io.optimizer_arrays(a), model_io.optimizer_arrays(b)
        assert sorted(oa) == sorted(ob)
        for key in oa:
            assert np.array_equal(oa[key], ob[key]), f"optimizer state {key!r} differs"


def assert_round_trip(model, tmp_path, x, y=None, steps=2):
    """Save and load `model`, then check the copy against it; returns the copy."""
    loaded, _ = save_and_load(model, tmp_path)
    assert_trees_equal(model.predict_on_batch(x), loaded.predict_on_batch(x), "predictions")
    assert_same_structure_and_flags(model, loaded)
    assert_same_compile(model, loaded)
    if model.compiled and y is not None:
        for _ in range(steps):
            # compared as lists: the order of the logs matters too (train_on_batch without
            # return_dict returns them as a list)
            la = model.train_on_batch(x, y, return_dict=True)
            lb = loaded.train_on_batch(x, y, return_dict=True)
            assert list(la.items()) == list(lb.items()), "continued training: logs differ"
        assert_same_state(model, loaded)
        assert loaded._trainer.iterations == model._trainer.iterations
        assert_same_compile(model, loaded)
        assert_trees_equal(model.predict_on_batch(x), loaded.predict_on_batch(x),
                           "predictions after continued training")
    return loaded


# -- every layer -------------------------------------------------------------------------
def _single_layer_model(kind):
    inp = lm.Input((4,), name="inp")
    if kind == "dense":
        out = Dense(3, activation="tanh", use_bias=True, kernel_initializer="he_normal",
                    bias_initializer="ones", name="layer")(inp)
    elif kind == "dense_initializer_objects":
        out = Dense(3, kernel_initializer=lm.initializers.RandomNormal(stddev=0.5, seed=3),
                    bias_initializer=lm.initializers.Constant(0.25), name="layer")(inp)
    elif kind == "dense_no_bias":
        out = Dense(3, activation="softmax", use_bias=False,
                    kernel_initializer="random_normal", name="layer")(inp)
    elif kind == "activation":
        out = L.Activation("gelu", name="layer")(inp)
    elif kind == "dropout":
        out = L.Dropout(0.5, seed=11, name="layer")(inp)
    elif kind == "dropout_noise_shape":
        out = L.Dropout(0.5, noise_shape=(None, 1), seed=5, name="layer")(inp)
    elif kind == "flatten":
        out = L.Flatten(name="layer")(L.Reshape((2, 2), name="pre")(inp))
    elif kind == "reshape":
        out = L.Reshape((2, -1), name="layer")(inp)
    elif kind == "concatenate":
        out = L.Concatenate(axis=-1, name="layer")([inp, Dense(2, name="pre")(inp)])
    elif kind == "add":
        out = L.Add(name="layer")([inp, Dense(4, name="pre")(inp)])
    elif kind == "batch_norm":
        out = L.BatchNormalization(momentum=0.5, epsilon=1e-2, name="layer")(inp)
    else:
        raise AssertionError(kind)
    return lm.Model(inp, out, name=f"single_{kind}")


LAYER_KINDS = ["dense", "dense_initializer_objects", "dense_no_bias", "activation", "dropout",
               "dropout_noise_shape", "flatten", "reshape", "concatenate", "add", "batch_norm"]


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_each_layer_round_trips(kind, tmp_path):
    model = _single_layer_model(kind)
    x = _x()
    if kind == "batch_norm":  # non-trivial moving statistics, set by the layer itself
        model.get_layer("layer")(x * 3.0 + 1.0, training=True)
        stats = model.get_layer("layer").moving_mean.numpy()
        assert not np.allclose(stats, 0.0)
    loaded = assert_round_trip(model, tmp_path, x)
    assert loaded.get_layer("layer").get_config() == model.get_layer("layer").get_config()
    if kind.startswith("dense"):  # initialisers with arguments keep them
        for attr in ("kernel_initializer", "bias_initializer"):
            a = getattr(model.get_layer("layer"), attr)
            b = getattr(loaded.get_layer("layer"), attr)
            assert (type(a), a.get_config()) == (type(b), b.get_config()), attr
    if kind.startswith("dropout"):  # the seed state (next masks) is a saved variable
        assert np.array_equal(loaded.get_layer("layer").seed_generator.state.numpy(),
                              model.get_layer("layer").seed_generator.state.numpy())


def _all_layers_model():
    inp = lm.Input((4,), name="features")
    h = Dense(6, activation="relu", kernel_initializer="lecun_normal", bias_initializer="ones",
              name="d1")(inp)
    h = L.BatchNormalization(momentum=0.8, name="bn")(h)
    h = L.Dropout(0.3, seed=7, name="drop")(h)
    r = L.Reshape((2, 3), name="reshape")(h)
    f = L.Flatten(name="flat")(r)
    a = L.Activation("tanh", name="act")(f)
    s = L.Add(name="add")([a, Dense(6, use_bias=False, name="d2")(f)])
    c = L.Concatenate(name="concat")([s, inp])
    out = Dense(2, name="out")(c)
    return lm.Model(inp, out, name="all_layers")


def test_all_layers_trained_model_round_trips_and_keeps_training(tmp_path):
    model = _all_layers_model()
    model.compile(lm.optimizers.SGD(learning_rate=0.05, momentum=0.9), "mse")
    x, y = _x(), _y()
    for _ in range(3):
        model.train_on_batch(x, y)
    bn = model.get_layer("bn")
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)
    assert not np.allclose(bn.moving_variance.numpy(), 1.0)
    loaded = assert_round_trip(model, tmp_path, x, y)
    assert loaded._trainer.iterations == 5
    assert_archive_is_safe(tmp_path / "model.lamina", compiled=True)


# -- Sequential --------------------------------------------------------------------------
def test_sequential_with_input_round_trips(tmp_path):
    model = lm.Sequential([lm.Input((4,)), Dense(8, activation="relu"), Dense(2)], name="seq")
    model.layers[0].bias.trainable = False  # a variable's own flag
    model.compile(lm.optimizers.SGD(learning_rate=0.05, momentum=0.9), "mse")
    x, y = _x(), _y()
    model.train_on_batch(x, y)
    loaded = assert_round_trip(model, tmp_path, x, y)
    assert loaded.layers[0].bias.trainable is False
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_sequential_built_lazily_round_trips(tmp_path):
    model = lm.Sequential([Dense(6, activation="relu"), Dense(3, activation="softmax")])
    model.compile(lm.optimizers.RMSprop(learning_rate=0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = _x()
    y = np.arange(8) % 3
    model.train_on_batch(x, y)  # builds the model from the data
    loaded = assert_round_trip(model, tmp_path, x, y)
    assert loaded.built


def test_sequential_never_built_round_trips_unbuilt(tmp_path):
    model = lm.Sequential([Dense(3, name="d3"), Dense(1, name="d1")], name="unbuilt")
    loaded, _ = save_and_load(model, tmp_path)
    assert not loaded.compiled
    assert not loaded.built
    assert loaded.get_config() == model.get_config()
    assert [layer.name for layer in loaded.layers] == ["d3", "d1"]
    assert loaded.predict_on_batch(_x()).shape == (8, 1)  # builds on first use


# -- functional --------------------------------------------------------------------------
def test_functional_shared_layers_round_trip(tmp_path):
    """One layer called twice in a row and on two inputs; a scoped freeze; a layer flag."""
    a, b = lm.Input((4,), name="a"), lm.Input((4,), name="b")
    shared = Dense(4, activation="tanh", name="shared")
    merged = L.Concatenate(name="cat")([shared(shared(a)), shared(b)])  # three calls
    mid = Dense(3, name="mid")(merged)
    out = Dense(1, name="out")(mid)
    model = lm.Model([a, b], out, name="siamese")
    model.freeze("mid")
    model.get_layer("out").trainable = False
    model.compile(lm.optimizers.AdamW(learning_rate=0.02, weight_decay=0.1), "mae")
    model.optimizer.learning_rate = 0.005  # a live change is saved too
    x = [_x(), _x(seed=2)]
    y = _y(d=1)
    model.train_on_batch(x, y)
    loaded = assert_round_trip(model, tmp_path, x, y)
    assert loaded.optimizer.learning_rate == 0.005
    assert [layer.name for layer in loaded.frozen_layers] == ["mid"]
    assert loaded.get_layer("out").trainable is False
    assert len(loaded.get_layer("shared")._variables) == 2  # one set of weights, not three
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


# -- nested models -----------------------------------------------------------------------
def _nested_model(outer_freezes_nested_layer=False):
    inner_in = lm.Input((4,), name="inner_in")
    ih = Dense(5, activation="relu", name="inner_hidden")(inner_in)
    inner_out = Dense(3, name="inner_out")(ih)
    inner = lm.Model(inner_in, inner_out, name="inner")
    inner.freeze("inner_hidden")  # a freeze made by the nested model, in its own scope

    seq = lm.Sequential([Dense(3, activation="tanh", name="seq_a"), Dense(3, name="seq_b")],
                        name="seq")

    inp = lm.Input((4,), name="outer_in")
    h = inner(inp)
    h = seq(h)
    h2 = Dense(3, name="side")(inp)
    out = Dense(2, name="outer_out")(L.Add(name="sum")([h, h2]))
    outer = lm.Model(inp, out, name="outer")
    if outer_freezes_nested_layer:
        outer.freeze(seq.get_layer("seq_b"))  # a layer of a nested model, in outer's scope
    else:
        outer.freeze("side")
    seq.get_layer("seq_a").kernel.trainable = False
    return outer, inner, seq


def test_nested_models_round_trip_with_flags_and_freezes(tmp_path):
    outer, inner, seq = _nested_model()
    outer.compile(lm.optimizers.Adam(learning_rate=0.01), "mse")
    x, y = _x(), _y()
    outer.train_on_batch(x, y)
    inner.trainable = False  # the model flag is a gate, saved as such
    outer.train_on_batch(x, y)
    loaded = assert_round_trip(outer, tmp_path, x, y)

    l_inner = loaded.get_layer("inner")
    l_seq = loaded.get_layer("seq")
    assert isinstance(l_inner, lm.Model) and type(l_seq) is lm.Sequential
    assert [f.name for f in l_inner.frozen_layers] == ["inner_hidden"]
    assert [f.name for f in loaded.frozen_layers] == ["side"]
    assert l_inner.trainable is False
    assert l_inner.get_layer("inner_hidden").trainable is True  # the gate wrote no sublayer flag
    assert l_seq.get_layer("seq_a").kernel.trainable is False
    # the loaded inner model is a model of its own: its freeze applies when it is the root
    assert _explain_rows(l_inner) == _explain_rows(inner)


def test_outer_freeze_of_a_layer_inside_a_nested_model_round_trips(tmp_path):
    """`outer.freeze(layer)` accepts any layer below `outer` (rule 2), so loading must too."""
    outer, inner, seq = _nested_model(outer_freezes_nested_layer=True)
    outer.freeze(inner.get_layer("inner_out"))
    x = _x()
    loaded = assert_round_trip(outer, tmp_path, x)
    assert [f.name for f in loaded.frozen_layers] == ["seq_b", "inner_out"]
    assert loaded.frozen_layers[0] is loaded.get_layer("seq").get_layer("seq_b")


def test_nested_model_gate_round_trips_without_touching_sublayer_flags(tmp_path):
    """`inner.trainable = False` is a gate (rule 1): after loading, setting it back to True
    restores exactly the situation before, sublayer flags included."""
    inner = lm.Sequential([lm.Input((4,)), Dense(3, name="i1"), Dense(3, name="i2")],
                          name="inner")
    inner.get_layer("i2").trainable = False
    inp = lm.Input((4,), name="inp")
    outer = lm.Model(inp, Dense(2, name="top")(inner(inp)), name="outer")
    before = _explain_rows(outer)
    inner.trainable = False
    loaded, _ = save_and_load(outer, tmp_path)
    assert _explain_rows(loaded) == _explain_rows(outer)
    loaded.get_layer("inner").trainable = True
    assert _explain_rows(loaded) == before
    assert [layer.trainable for layer in loaded.get_layer("inner").layers] == [True, False]


# -- multi-input / multi-output with dicts -----------------------------------------------
def test_multi_input_dict_output_round_trips(tmp_path):
    num = lm.Input((4,), name="num")
    extra = lm.Input((2,), name="extra")
    trunk = Dense(6, activation="relu", name="trunk")(L.Concatenate(name="join")([num, extra]))
    reg = Dense(1, name="reg_head")(trunk)
    cls = Dense(3, name="cls_head")(trunk)
    # input keys in sorted order: see test_dict_inputs_in_insertion_order_round_trip
    model = lm.Model({"extra": extra, "num": num}, {"value": reg, "label": cls}, name="multi")
    model.compile(
        lm.optimizers.Adam(learning_rate=0.003),
        loss={"value": "mse",
              "label": lm.losses.SparseCategoricalCrossentropy(from_logits=True)},
        metrics={"value": ["mae"], "label": ["accuracy"]},
        loss_weights={"value": 0.5, "label": 2.0},
    )
    x = {"num": _x(), "extra": _x(d=2, seed=3)}
    y = {"value": _y(d=1), "label": np.arange(8) % 3}
    model.train_on_batch(x, y)
    loaded = assert_round_trip(model, tmp_path, x, y)
    out = loaded.predict_on_batch(x)
    assert isinstance(out, dict) and set(out) == {"value", "label"}
    assert loaded.output_names == model.output_names
    assert loaded.input_names == model.input_names


def test_dict_inputs_in_insertion_order_round_trip(tmp_path):
    """Dict inputs are matched by key, whatever the dict's order (Keras 3)."""
    num, extra = lm.Input((4,), name="num"), lm.Input((2,), name="extra")
    out = Dense(1, name="out")(L.Concatenate(name="join")([num, extra]))
    model = lm.Model({"num": num, "extra": extra}, out, name="keyed")
    x = {"num": _x(), "extra": _x(d=2, seed=3)}
    loaded = assert_round_trip(model, tmp_path, x)
    assert loaded.predict_on_batch({"extra": x["extra"], "num": x["num"]}).shape == (8, 1)


# -- subclassed models -------------------------------------------------------------------
def test_subclassed_model_round_trips(tmp_path):
    model = RoundTripMLP(units=6, out_units=2, name="mlp")
    model.compile(lm.optimizers.Adam(learning_rate=0.01), "mse", metrics=["mse"])
    x, y = _x(), _y()
    model.predict_on_batch(x)  # builds it (a subclassed model builds on its first call)
    model.hidden.bias.trainable = False
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    model.freeze(model.norm)  # scoped freeze inside a subclassed model (BN: inference mode)
    loaded = assert_round_trip(model, tmp_path, x, y)
    assert type(loaded) is RoundTripMLP
    assert (loaded.units, loaded.out_units) == (6, 2)
    assert [f.name for f in loaded.frozen_layers] == ["norm"]
    assert loaded.hidden.bias.trainable is False


def test_subclassed_model_with_list_of_layers_round_trips(tmp_path):
    model = RoundTripStack(depth=3, width=2, name="stack")
    model.blocks[1].trainable = False
    model.compile(lm.optimizers.SGD(learning_rate=0.1, momentum=0.5, nesterov=True), "mse")
    x, y = _x(), _y(d=1)
    model.train_on_batch(x, y)
    loaded = assert_round_trip(model, tmp_path, x, y)
    assert type(loaded) is RoundTripStack
    assert [path for path, _ in tree.labelled_layers(loaded)] == \
        ["", "blocks/0", "blocks/1", "blocks/2", "head"]
    assert [b.trainable for b in loaded.blocks] == [True, False, True]


def test_subclassed_model_inside_functional_round_trips(tmp_path):
    inp = lm.Input((4,), name="inp")
    body = RoundTripStack(depth=2, width=3, name="body")
    out = Dense(2, name="top")(body(inp))
    model = lm.Model(inp, out, name="wrapper")
    body.freeze(body.blocks[0])  # a freeze made by the nested subclassed model
    model.compile("rmsprop", "mse")
    x, y = _x(), _y()
    model.train_on_batch(x, y)
    loaded = assert_round_trip(model, tmp_path, x, y)
    l_body = loaded.get_layer("body")
    assert type(l_body) is RoundTripStack
    assert [f.name for f in l_body.frozen_layers] == ["block_0"]
    assert l_body.frozen_layers[0] is l_body.blocks[0]


def test_variable_frozen_after_training_keeps_its_optimizer_state(tmp_path):
    """Rule 6: a variable frozen after some steps keeps its optimizer state, saved and
    loaded with the rest, and resumes with it when unfrozen."""
    inp = lm.Input((4,), name="inp")
    model = lm.Model(inp, Dense(2, name="out")(inp), name="late_freeze")
    model.compile(lm.optimizers.SGD(learning_rate=0.1, momentum=0.9), "mse")
    x, y = _x(), _y()
    model.train_on_batch(x, y)
    model.get_layer("out").bias.trainable = False  # frozen after its momentum was built
    loaded = assert_round_trip(model, tmp_path, x, y)
    model.get_layer("out").bias.trainable = True
    loaded.get_layer("out").bias.trainable = True
    assert model.train_on_batch(x, y) == loaded.train_on_batch(x, y)
    assert_same_state(model, loaded)


# -- compile state -----------------------------------------------------------------------
def test_uncompiled_model_loads_uncompiled(tmp_path):
    model = _all_layers_model()
    loaded, path = save_and_load(model, tmp_path)
    assert not loaded.compiled
    assert loaded._trainer is None
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.safetensors"]
    x = _x()
    assert_trees_equal(model.predict_on_batch(x), loaded.predict_on_batch(x), "predictions")


def test_compiled_untrained_model_loads_compiled_and_trains_identically(tmp_path):
    inp = lm.Input((4,), name="inp")
    model = lm.Model(inp, Dense(2, name="out")(inp))
    model.compile(lm.optimizers.Adam(learning_rate=0.002), "mse")
    loaded = assert_round_trip(model, tmp_path, _x(), _y())
    assert loaded._trainer.iterations == 2


def test_user_loss_function_after_register_function(tmp_path):
    inp = lm.Input((4,), name="inp")
    model = lm.Model(inp, Dense(2, name="out")(inp), name="custom_loss")
    model.compile(lm.optimizers.SGD(learning_rate=0.1), loss=round_trip_abs_loss)
    x, y = _x(), _y()
    model.train_on_batch(x, y)
    loaded = assert_round_trip(model, tmp_path, x, y)
    assert loaded._trainer._compile_args[0] is round_trip_abs_loss or \
        loaded._trainer._compile_args[0].fn is round_trip_abs_loss


def test_unregistered_loss_function_refuses_to_save(tmp_path):
    inp = lm.Input((4,), name="inp")
    model = lm.Model(inp, Dense(2, name="out")(inp))
    model.compile("sgd", loss=unregistered_loss)
    path = tmp_path / "m.lamina"
    with pytest.raises(lm.LaminaError, match="register_function"):
        model.save(path)
    assert not path.exists()


def test_raw_optax_optimizer_refuses_to_save(tmp_path):
    inp = lm.Input((4,), name="inp")
    model = lm.Model(inp, Dense(2, name="out")(inp))
    model.compile(optax.adam(1e-3), "mse")
    path = tmp_path / "m.lamina"
    with pytest.raises(lm.LaminaError) as info:
        model.save(path)
    message = str(info.value)
    assert "optax" in message
    assert "lamina.optimizers" in message  # tells what to do instead
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either


def test_unregistered_subclass_refuses_to_save(tmp_path):
    model = UnregisteredModel(name="unregistered")
    model.predict_on_batch(_x())
    path = tmp_path / "m.lamina"
    with pytest.raises(lm.LaminaError, match="register_serializable"):
        model.save(path)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


# -- save_weights / load_weights ----------------------------------------------------------
def _weights_model(units=3, extra=False, name="w"):
    inp = lm.Input((4,), name="inp")
    h = Dense(units, activation="relu", name="hidden")(inp)
    if extra:
        h = Dense(units, name="extra")(h)
    out = Dense(2, name="out")(h)
    return lm.Model(inp, out, name=name)


def test_save_weights_load_weights_round_trip(tmp_path):
    source = _weights_model()
    x = _x()
    path = tmp_path / "w.safetensors"
    source.save_weights(path)
    target = _weights_model()  # same architecture, other initial values
    assert not np.array_equal(source.predict_on_batch(x), target.predict_on_batch(x))
    report = target.load_weights(path)
    assert report == {"missing": [], "unexpected": [], "mismatched": []}
    assert np.array_equal(source.predict_on_batch(x), target.predict_on_batch(x))
    assert_same_state(source, target)


def test_load_weights_mismatch_raises_or_reports(tmp_path):
    source = _weights_model(units=3)
    path = tmp_path / "w.safetensors"
    source.save_weights(path)

    target = _weights_model(units=5, extra=True)  # hidden is wider, "extra" is new
    before = {p: v.numpy() for p, v in _variables(target).items()}
    with pytest.raises(lm.LaminaError) as info:
        target.load_weights(path)
    message = str(info.value)
    for name in ("hidden/kernel", "hidden/bias", "extra/kernel", "out/kernel", "skip_mismatch"):
        assert name in message
    # nothing was loaded by the failed call
    for p, v in _variables(target).items():
        assert np.array_equal(v.numpy(), before[p]), p

    report = target.load_weights(path, skip_mismatch=True)
    assert set(report) == {"missing", "unexpected", "mismatched"}
    assert report["missing"] == ["extra/bias", "extra/kernel"]
    assert report["unexpected"] == []
    assert report["mismatched"] == ["hidden/bias", "hidden/kernel", "out/kernel"]
    variables = _variables(target)
    src = _variables(source)
    assert np.array_equal(variables["out/bias"].numpy(), src["out/bias"].numpy())  # loaded
    for p in ("hidden/kernel", "hidden/bias", "out/kernel", "extra/kernel", "extra/bias"):
        assert np.array_equal(variables[p].numpy(), before[p]), p  # untouched


def test_load_weights_reports_unexpected_paths(tmp_path):
    source = _weights_model(units=3, extra=True)
    path = tmp_path / "w.safetensors"
    source.save_weights(path)
    target = _weights_model(units=3)
    with pytest.raises(lm.LaminaError, match="extra/kernel"):
        target.load_weights(path)
    report = target.load_weights(path, skip_mismatch=True)
    assert report == {"missing": [], "unexpected": ["extra/bias", "extra/kernel"],
                      "mismatched": []}
    # hidden has the same shapes in both, so it loaded
    assert np.array_equal(_variables(target)["hidden/kernel"].numpy(),
                          _variables(source)["hidden/kernel"].numpy())


# -- the archive -------------------------------------------------------------------------
PICKLE_HEADERS = (b"\x80\x02", b"\x80\x03", b"\x80\x04\x95", b"\x80\x05\x95")


def assert_archive_is_safe(path, compiled):
    """A zip of JSON and safetensors members only, with no pickle anywhere."""
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as zf:
        names = sorted(zf.namelist())
        members = {n: zf.read(n) for n in names}
    expected = ["config.json", "metadata.json", "model.safetensors"]
    if compiled:
        expected.append("optimizer.safetensors")
    assert names == expected
    for name in ("config.json", "metadata.json"):
        json.loads(members[name].decode("utf-8"))  # plain JSON
    for name in names:
        if name.endswith(".safetensors"):
            data = members[name]
            header_len = int.from_bytes(data[:8], "little")
            header = json.loads(data[8:8 + header_len])
            assert all(set(e) == {"dtype", "shape", "data_offsets"}
                       for k, e in header.items() if k != "__metadata__")
    assert b"\x80\x04\x95" not in path.read_bytes()
    for name, data in members.items():
        assert not data.startswith(PICKLE_HEADERS), name


def test_uncompiled_archive_members(tmp_path):
    model = _all_layers_model()
    model.save(tmp_path / "model.lamina")
    assert_archive_is_safe(tmp_path / "model.lamina", compiled=False)


# -- global state ------------------------------------------------------------------------
def _state_model():
    inp = lm.Input((4,), name="inp")
    h = Dense(5, activation="relu", name="h")(inp)
    h = L.BatchNormalization(name="bn")(h)
    h = L.Dropout(0.5, name="drop")(h)  # seed drawn from lm.random
    return lm.Model(inp, Dense(2, name="out")(h), name="state")


def test_loading_twice_gives_identical_models(tmp_path):
    model = _state_model()
    x = _x()
    path = tmp_path / "m.lamina"
    model.save(path)
    first = lm.models.load_model(path)
    second = lm.models.load_model(path)
    assert_trees_equal(first.predict_on_batch(x), second.predict_on_batch(x), "predictions")
    assert_trees_equal(model.predict_on_batch(x), second.predict_on_batch(x), "predictions")
    assert_same_structure_and_flags(first, second)  # dropout seed states included
    assert_same_structure_and_flags(model, second)


def test_loading_leaves_the_random_stream_alone(tmp_path):
    model = _state_model()
    path = tmp_path / "m.lamina"
    model.save(path)
    lm.random.set_seed(123)
    expected = rng.next_seed()
    lm.random.set_seed(123)
    lm.models.load_model(path)
    assert rng.next_seed() == expected


def test_loading_leaves_automatic_names_alone(tmp_path):
    model = _state_model()
    path = tmp_path / "m.lamina"
    model.save(path)
    lm.reset_names()
    expected = [Dense(1).name, Dense(1).name, lm.Sequential([Dense(1)]).name]
    lm.reset_names()
    lm.models.load_model(path)
    assert [Dense(1).name, Dense(1).name, lm.Sequential([Dense(1)]).name] == expected
