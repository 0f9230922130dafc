"""Partitioned (per-group) optimizers against hand-written references.

References: the gradient of a loss written by hand in jax.numpy (not the model), plain SGD
arithmetic (w - rate * grad) and separate optax instances per group. Tolerances: rtol 1e-6
where only one multiply separates the update from the reference (SGD), rtol 1e-5 for Adam
(the model's and the hand-written gradient differ by float32 rounding only); frozen
weights and optimizer slots are compared bitwise.
"""
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lamina as lm
from lamina.errors import ConfigurationError, SavingError
from lamina.optimizers.partitioned import Partitioned

_r = np.random.default_rng(0)
X = _r.normal(size=(8, 3)).astype(np.float32)
Y = _r.normal(size=(8, 2)).astype(np.float32)
SHAPES = {"b1/kernel": (3, 4), "b1/bias": (4,), "b2/kernel": (4, 4), "b2/bias": (4,),
          "mid/kernel": (4, 4), "mid/bias": (4,), "head/kernel": (4, 2), "head/bias": (2,)}
INIT = {p: (_r.normal(size=s) * 0.5).astype(np.float32) for p, s in SHAPES.items()}
GROUPS = {"backbone": ("b1/kernel", "b1/bias", "b2/kernel", "b2/bias"),
          "mid": ("mid/kernel", "mid/bias"), "head": ("head/kernel", "head/bias")}


def _model():
    """Input(3) -> backbone [b1 tanh, b2] (a nested Sequential) -> mid -> head."""
    lm.reset_names()
    backbone = lm.Sequential([lm.layers.Dense(4, activation="tanh", name="b1"),
                              lm.layers.Dense(4, name="b2")], name="backbone")
    inp = lm.Input((3,))
    out = lm.layers.Dense(2, name="head")(lm.layers.Dense(4, name="mid")(backbone(inp)))
    model = lm.Model(inp, out, name="net")
    for v in model.weights:
        v.assign(INIT[v.path])
    return model, backbone


def _loss(params, x, y):
    """The model's mean squared error, written by hand."""
    h = jnp.tanh(x @ params["b1/kernel"] + params["b1/bias"])
    h = h @ params["b2/kernel"] + params["b2/bias"]
    h = h @ params["mid/kernel"] + params["mid/bias"]
    pred = h @ params["head/kernel"] + params["head/bias"]
    return jnp.mean(jnp.mean((pred - y) ** 2, axis=-1))


def _grads(params):
    return jax.grad(_loss)({p: jnp.asarray(a) for p, a in params.items()}, X, Y)


def _weights(model):
    return {v.path: np.array(v.value) for v in model.weights}


def _check_sgd_step(model, rates):
    """One train_on_batch must move each weight by -rate[group] * grad (hand-written)."""
    before = _weights(model)
    grads = _grads(before)
    model.train_on_batch(X, Y)
    after = _weights(model)
    for group, paths in GROUPS.items():
        for p in paths:
            expected = before[p] - np.float32(rates[group]) * np.asarray(grads[p])
            np.testing.assert_allclose(after[p], expected, rtol=1e-6, atol=1e-7, err_msg=p)


# -- updates per group -----------------------------------------------------------------
def test_sgd_updates_are_group_rate_times_grad():
    model, backbone = _model()
    opt = Partitioned({backbone: 0.25, "head": lm.optimizers.SGD(0.5)},
                      default=lm.optimizers.SGD(0.125))
    model.compile(optimizer=opt, loss="mse")
    for _ in range(2):
        _check_sgd_step(model, {"backbone": 0.03125, "mid": 0.125, "head": 0.5})


def test_sgd_updates_with_rates_that_are_not_powers_of_two():
    model, backbone = _model()
    model.compile(optimizer=Partitioned({backbone: lm.optimizers.SGD(1e-3), "mid": 0.3},
                                        default=lm.optimizers.SGD(0.07)), loss="mse")
    _check_sgd_step(model, {"backbone": 1e-3, "mid": 0.021, "head": 0.07})


def test_adam_per_group_matches_separate_optax_instances():
    model, backbone = _model()
    model.compile(optimizer=Partitioned(
        {backbone: lm.optimizers.Adam(1e-2), "head*": lm.optimizers.Adam(1e-3, beta_1=0.8)},
        default=lm.optimizers.Adam(5e-3)), loss="mse")
    txs = {"backbone": optax.adam(1e-2, eps=1e-7), "head": optax.adam(1e-3, b1=0.8, eps=1e-7),
           "mid": optax.adam(5e-3, eps=1e-7)}
    params = {p: jnp.asarray(a) for p, a in INIT.items()}
    states = {g: tx.init({p: params[p] for p in GROUPS[g]}) for g, tx in txs.items()}
    for _ in range(3):
        grads = jax.grad(_loss)(params, X, Y)
        for group, tx in txs.items():
            sub = {p: params[p] for p in GROUPS[group]}
            updates, states[group] = tx.update({p: grads[p] for p in sub}, states[group], sub)
            params.update(optax.apply_updates(sub, updates))
        model.train_on_batch(X, Y)
        after = _weights(model)
        for p in SHAPES:
            np.testing.assert_allclose(after[p], params[p], rtol=1e-5, atol=1e-6, err_msg=p)


def test_model_built_at_first_step_is_labelled_then():
    lm.reset_names()
    model = lm.Sequential([lm.layers.Dense(3, name="a"), lm.layers.Dense(2, name="b")])
    model.compile(optimizer=Partitioned({"a": 0.5}, default=lm.optimizers.SGD(0.25)),
                  loss="mse")
    model.train_on_batch(X, Y)  # builds the model, then labels its variables
    before = {v.path: np.array(v.value) for v in model.weights}
    params = {p: jnp.asarray(a) for p, a in before.items()}

    def loss(params):
        pred = (X @ params["a/kernel"] + params["a/bias"]) @ params["b/kernel"] + params["b/bias"]
        return jnp.mean(jnp.mean((pred - Y) ** 2, axis=-1))

    grads = jax.grad(loss)(params)
    model.train_on_batch(X, Y)
    for v in model.weights:
        rate = 0.125 if v.path.startswith("a/") else 0.25
        np.testing.assert_allclose(np.array(v.value), before[v.path] - rate * grads[v.path],
                                   rtol=1e-6, atol=1e-7, err_msg=v.path)


# -- frozen variables ------------------------------------------------------------------
@pytest.mark.parametrize("how", ["flag", "scoped"])
def test_frozen_group_is_bitwise_unchanged_and_keeps_its_state(how):
    model, backbone = _model()
    opt = Partitioned({backbone: lm.optimizers.Adam(1e-2)}, default=lm.optimizers.Adam(1e-3))
    model.compile(optimizer=opt, loss="mse")
    model.train_on_batch(X, Y)  # every group has moments now
    frozen = {v.uid: v for v in backbone.weights}
    slots = _slots(model, frozen)
    assert len(slots) == 2 * len(frozen)  # Adam's mu and nu of each backbone weight
    before = _weights(model)
    if how == "flag":
        backbone.trainable = False
    else:
        model.freeze(backbone)
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0)
    after = _weights(model)
    for p in GROUPS["backbone"]:
        assert np.array_equal(after[p], before[p]), p
    for p in GROUPS["mid"] + GROUPS["head"]:
        assert not np.array_equal(after[p], before[p]), p
    for name, value in _slots(model, frozen).items():
        assert np.array_equal(value, slots[name]), name
    if how == "flag":
        backbone.trainable = True
    else:
        model.unfreeze(backbone)
    model.train_on_batch(X, Y)
    assert not np.array_equal(_weights(model)["b1/kernel"], before["b1/kernel"])


def _slots(model, variables):
    """{keypath: array} of the optimizer-state entries of `variables` (Adam's mu and nu)."""
    leaves = jax.tree_util.tree_flatten_with_path(model._trainer.opt_state)[0]
    return {jax.tree_util.keystr(path): np.array(leaf) for path, leaf in leaves
            if any(isinstance(k, jax.tree_util.DictKey) and k.key in variables for k in path)}


# -- rules: nested models, shared layers, patterns -------------------------------------
def _nested():
    """root: encoder (functional: block (Sequential: c1, c2), proj), then shared twice, out."""
    lm.reset_names()
    block = lm.Sequential([lm.layers.Dense(4, name="c1"), lm.layers.Dense(4, name="c2")],
                          name="block")
    e_in = lm.Input((3,))
    encoder = lm.Model(e_in, lm.layers.Dense(4, name="proj")(block(e_in)), name="encoder")
    shared = lm.layers.Dense(4, name="shared")
    inp = lm.Input((3,))
    h = shared(lm.layers.Dense(4, name="pre")(shared(encoder(inp))))
    model = lm.Model(inp, lm.layers.Dense(2, name="out")(h), name="root")
    return model, encoder, block, shared


def _groups_by_path(opt, model):
    labels = opt.assign(model)
    return {v.path: labels[v.uid] for v in model.weights}


def test_rules_select_nested_models_by_object_glob_and_regex():
    model, _, block, _ = _nested()
    opt = Partitioned([(block, 0.1), ("encoder/proj", 0.2), (re.compile(r"sha.*"), 0.3)],
                      default="sgd")
    by_path = _groups_by_path(opt, model)
    assert by_path == {
        "c1/kernel": "group_0", "c1/bias": "group_0", "c2/kernel": "group_0",
        "c2/bias": "group_0", "proj/kernel": "group_1", "proj/bias": "group_1",
        "shared/kernel": "group_2", "shared/bias": "group_2",
        "pre/kernel": "default", "pre/bias": "default",
        "out/kernel": "default", "out/bias": "default"}


def test_glob_on_a_nested_model_name_selects_everything_inside_it():
    model, *_ = _nested()
    by_path = _groups_by_path(Partitioned({"encoder": 0.1}, default="sgd"), model)
    assert {p for p, g in by_path.items() if g == "group_0"} == {
        "c1/kernel", "c1/bias", "c2/kernel", "c2/bias", "proj/kernel", "proj/bias"}
    by_path = _groups_by_path(Partitioned({"encoder/block/c*/kernel": 0.1}, default="sgd"),
                              model)
    assert {p for p, g in by_path.items() if g == "group_0"} == {"c1/kernel", "c2/kernel"}


def test_variable_key_selects_one_variable():
    model, _, block, _ = _nested()
    kernel = block.layers[0].kernel
    by_path = _groups_by_path(Partitioned({kernel: 0.5}, default="adam"), model)
    assert [p for p, g in by_path.items() if g == "group_0"] == ["c1/kernel"]


# -- errors ----------------------------------------------------------------------------
def test_variable_matched_by_two_rules_names_both():
    model, backbone = _model()
    opt = Partitioned({backbone: 0.1, "backbone/b1": 0.2}, default="sgd")
    with pytest.raises(ConfigurationError, match=r"variable 'backbone/b1/kernel' of model 'net' "
                       r"is matched by two rules: Sequential 'backbone' and pattern "
                       r"'backbone/b1'"):
        model.compile(optimizer=opt, loss="mse")


def test_shared_layer_reached_by_two_rules_is_an_overlap():
    model, encoder, _, shared = _nested()
    opt = Partitioned({shared: 0.1, "pre": 0.2, "shared*": 0.5}, default="sgd")
    with pytest.raises(ConfigurationError, match=r"two rules: Dense 'shared' and pattern "
                                                 r"'shared\*'"):
        opt.assign(model)


@pytest.mark.parametrize("key, text", [
    ("haed", r"rule pattern 'haed' matches no trainable variable of model 'net'\. Its "
             r"trainable variables are at: \['backbone/b1/bias'"),
    (re.compile("x+"), r"rule regex 'x\+' matches no trainable variable"),
])
def test_rule_matching_nothing_is_an_error(key, text):
    model, _ = _model()
    with pytest.raises(ConfigurationError, match=text):
        model.compile(optimizer=Partitioned({key: 0.5}, default="sgd"), loss="mse")


def test_layer_outside_the_model_matches_nothing():
    model, _ = _model()
    stranger = lm.layers.Dense(2, name="stranger")
    stranger.build((None, 3))
    with pytest.raises(ConfigurationError, match=r"rule Dense 'stranger' matches no "
                                                 r"trainable variable"):
        model.compile(optimizer=Partitioned({stranger: 0.5}, default="sgd"), loss="mse")


def test_rule_matching_only_non_trainable_variables_is_an_error():
    lm.reset_names()
    inp = lm.Input((3,))
    bn = lm.layers.BatchNormalization(name="bn")
    model = lm.Model(inp, lm.layers.Dense(2, name="d")(bn(inp)))
    with pytest.raises(ConfigurationError, match=r"pattern 'bn/moving\*' matches no trainable"):
        Partitioned({"bn/moving*": 0.5}, default="sgd").assign(model)


def test_unmatched_variables_without_default_are_an_error():
    model, backbone = _model()
    with pytest.raises(ConfigurationError, match=r"variables \['mid/kernel', 'mid/bias', "
                       r"'head/kernel', 'head/bias'\] of model 'net' match no rule and no "
                       r"default optimizer was given"):
        model.compile(optimizer=Partitioned({backbone: "adam"}), loss="mse")


@pytest.mark.parametrize("args, text", [
    (({},), r"expected a non-empty dict"),
    (({3: "sgd"},), r"a rule key must be a layer or model, a Variable, a glob string or a "
                    r"compiled regex \(re.compile\), received 3 \(of type int\)"),
    (({"": "sgd"},), r"received an empty pattern ''"),
    (({"a": 0.5},), r"the rule pattern 'a' gives the multiplier 0.5, which scales the default "
                    r"optimizer's rate, but no default was given"),
    (({"a": -1.0}, "sgd"), r"expects a positive multiplier, received -1.0"),
    (({"a": optax.sgd(0.1)}, "sgd"), r"the optimizer for pattern 'a' must be a lamina "
                                     r"optimizer .* received OptaxOptimizer"),
    (({"a": lm.optimizers.Adam(use_ema=True)}, "sgd"), r"uses use_ema or "
                                                       r"gradient_accumulation_steps"),
    (({"a": "sgd"}, lm.optimizers.SGD(0.0)), r"reference learning rate \(default\) must be "
                                             r"positive"),
    (({"a": "nope"},), r"Unknown optimizer 'nope'"),
])
def test_bad_arguments(args, text):
    with pytest.raises(ConfigurationError, match=text):
        Partitioned(*args)


def test_build_without_a_model_is_an_error():
    with pytest.raises(ConfigurationError, match=r"the optimizer is built by compile\(\)"):
        Partitioned({"a": 0.5}, default="sgd").build()


# -- live learning rate ----------------------------------------------------------------
def test_setting_the_rate_scales_every_group():
    model, backbone = _model()
    opt = Partitioned({backbone: 0.25, "head": lm.optimizers.SGD(0.5)},
                      default=lm.optimizers.SGD(0.125))
    model.compile(optimizer=opt, loss="mse")
    _check_sgd_step(model, {"backbone": 0.03125, "mid": 0.125, "head": 0.5})
    opt.learning_rate = 0.0625  # halves every group, no recompile
    assert opt.learning_rate == 0.0625
    assert opt.group_learning_rates == {"Sequential 'backbone'": 0.015625, "pattern 'head'": 0.25,
                                        "default": 0.0625}
    _check_sgd_step(model, {"backbone": 0.015625, "mid": 0.0625, "head": 0.25})
    assert len(model._trainer.compiled_steps("train")) == 1


def test_learning_rate_callback_scales_every_group():
    model, backbone = _model()
    opt = Partitioned([("head", lm.optimizers.SGD(0.5)), (backbone, lm.optimizers.SGD(0.25)),
                       ("mid", lm.optimizers.SGD(1.0))])
    model.compile(optimizer=opt, loss="mse")  # no default: the first rule is the reference
    model.fit(X, Y, batch_size=8, epochs=2, verbose=0, callbacks=[
        lm.callbacks.LearningRateScheduler(lambda epoch, rate: 0.5 if epoch == 0 else 0.25)])
    assert opt.learning_rate == 0.25
    _check_sgd_step(model, {"head": 0.25, "backbone": 0.125, "mid": 0.5})


def test_schedule_reference_follows_the_schedule_and_cannot_be_set():
    model, backbone = _model()
    schedule = lm.optimizers.schedules.ExponentialDecay(0.5, decay_steps=1, decay_rate=0.5)
    opt = Partitioned({backbone: 0.5, "head": lm.optimizers.SGD(0.25)},
                      default=lm.optimizers.SGD(schedule))
    model.compile(optimizer=opt, loss="mse")
    _check_sgd_step(model, {"backbone": 0.25, "mid": 0.5, "head": 0.25})
    _check_sgd_step(model, {"backbone": 0.125, "mid": 0.25, "head": 0.25})
    with pytest.raises(ConfigurationError, match="cannot be set"):
        opt.learning_rate = 0.1


# -- saving ----------------------------------------------------------------------------
def test_config_round_trip_keeps_groups_and_the_live_rate():
    model, _ = _model()
    opt = Partitioned([("backbone", 0.25), (re.compile("hea.*"), lm.optimizers.SGD(0.5))],
                      default=lm.optimizers.SGD(0.125), name="groups")
    opt.learning_rate = 0.0625
    config = opt.get_config()
    copy = Partitioned.from_config(config)
    assert copy.get_config() == config
    assert copy.name == "groups" and copy.learning_rate == 0.0625
    assert copy.assign(model) == opt.assign(model)
    model.compile(optimizer=copy, loss="mse")
    _check_sgd_step(model, {"backbone": 0.015625, "mid": 0.0625, "head": 0.25})


def test_object_keyed_rule_cannot_be_saved():
    model, backbone = _model()
    opt = Partitioned({backbone: 0.25}, default="sgd")
    with pytest.raises(SavingError, match=r"cannot save the rule keyed by Sequential "
                                          r"'backbone': objects cannot be saved by name"):
        opt.get_config()


def test_saved_model_resumes_with_the_same_group_updates(tmp_path):
    lm.saving.register_serializable("optimizers.Partitioned")(Partitioned)
    model, _ = _model()
    model.compile(optimizer=Partitioned({"backbone": lm.optimizers.Adam(1e-2)},
                                        default=lm.optimizers.Adam(1e-3)), loss="mse")
    model.train_on_batch(X, Y)
    lm.saving.save_model(model, tmp_path / "m.lamina")
    loaded = lm.saving.load_model(tmp_path / "m.lamina")
    model.train_on_batch(X, Y)
    loaded.train_on_batch(X, Y)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# -- the guide -------------------------------------------------------------------------
def test_guide_code_runs():
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" /
            "per_group_optimizers.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks
    lm.reset_names()
    namespace = {"__name__": "docs_per_group_optimizers"}
    for index, block in enumerate(blocks):
        exec(compile(block, f"per_group_optimizers.md[block {index}]", "exec"), namespace)
