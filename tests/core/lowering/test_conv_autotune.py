"""Per-shape choice of the convolution lowering: every path against XLA's convolution, the
autotune's decisions and its disk cache, and the `LAMINA_CONV_LOWERING` switch.

References, independent of the paths under test: `jax.lax.conv_general_dilated` called here
(NHWC / HWIO dimension numbers; a transposed convolution as its `lhs_dilation` form with the
kernel flipped and its in/out axes swapped, written out below), for values and for gradients
(`jax.grad`) with respect to the input and the kernel. Float32 values of order 1; tolerance
1e-4 (only the summation order differs).
"""
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lamina.core.lowering import autotune, conv_paths, convolution, tuning_cache
from lamina.core.lowering import conv_transpose as transpose
from lamina.errors import ConfigurationError

TOL = {"atol": 1e-4, "rtol": 1e-4}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """Exact float32 products, a cache file of this test's own, an empty memory."""
    monkeypatch.setenv("LAMINA_AUTOTUNE_CACHE", str(tmp_path / "tune.json"))
    monkeypatch.delenv("LAMINA_CONV_LOWERING", raising=False)
    autotune.clear_memory()
    with jax.default_matmul_precision("highest"):
        yield
    autotune.clear_memory()


def lax_conv(x, kernel, strides, padding, dilation, groups=1):
    sp = "DHW"[-(x.ndim - 2):]
    pad = padding.upper() if isinstance(padding, str) else padding
    return jax.lax.conv_general_dilated(x, kernel, strides, pad, rhs_dilation=dilation,
                                        dimension_numbers=(f"N{sp}C", f"{sp}IO", f"N{sp}C"),
                                        feature_group_count=groups)


def lax_conv_transpose(x, kernel, strides, pads, dilation):
    sp = "DHW"[-(x.ndim - 2):]
    flipped = jnp.swapaxes(kernel[(slice(None, None, -1),) * (x.ndim - 2)], -1, -2)
    return jax.lax.conv_general_dilated(x, flipped, (1,) * (x.ndim - 2), pads,
                                        lhs_dilation=strides, rhs_dilation=dilation,
                                        dimension_numbers=(f"N{sp}C", f"{sp}IO", f"N{sp}C"))


def _arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [jnp.asarray(rng.standard_normal(s), jnp.float32) for s in shapes]


def _assert_same_values_and_gradients(fn, ref, x, k):
    y = ref(x, k)
    np.testing.assert_allclose(jax.jit(fn)(x, k), y, **TOL)
    (w,) = _arrays(9, y.shape)
    got = jax.jit(jax.grad(lambda a, b: jnp.sum(fn(a, b) * w), (0, 1)))(x, k)
    want = jax.grad(lambda a, b: jnp.sum(ref(a, b) * w), (0, 1))(x, k)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, **TOL)


# the shape families the CPU lowerings route: rank 1-3, strides, dilation, same/valid/explicit
FAMILIES = [
    ((2, 11, 3), (3, 3, 4), (1,), "same", (1,)),
    ((2, 12, 3), (5, 3, 2), (2,), "valid", (1,)),
    ((2, 9, 8, 3), (3, 3, 3, 4), (1, 1), "same", (1, 1)),
    ((2, 9, 10, 2), (3, 2, 2, 3), (2, 1), "same", (1, 2)),
    ((1, 10, 9, 3), (7, 7, 3, 2), (2, 2), "valid", (1, 1)),
    ((2, 8, 8, 2), (3, 3, 2, 2), (1, 1), ((2, 0), (1, 3)), (1, 1)),
    ((2, 6, 5, 3), (1, 1, 3, 4), (1, 1), "valid", (1, 1)),
    ((2, 7, 6, 3), (1, 1, 3, 2), (2, 2), "same", (1, 1)),
    ((1, 5, 6, 5, 2), (3, 3, 3, 2, 3), (1, 2, 1), "same", (1, 1, 1)),
]
# (forward, training) plans: each single CPU lowering on every family; the mixed plans the
# autotune can pick (the custom_vjp running one lowering forward, another backward) on two
PLANS = [("patches", "patches"), ("hybrid", "hybrid")]
MIXED = [("xla", "patches"), ("patches", "xla"), ("patches", "hybrid")]


@pytest.mark.parametrize("index", range(len(FAMILIES)),
                         ids=[f"{len(f[0]) - 2}d-{f[2]}-{f[3]}" for f in FAMILIES])
def test_every_plan_matches_xla_convolution(index):
    x_shape, k_shape, strides, padding, dilation = FAMILIES[index]
    x, k = _arrays(1, x_shape, k_shape)

    def ref(a, b):
        return lax_conv(a, b, strides, padding, dilation)

    for forward, training in PLANS + (MIXED if index in (3, 5) else []):
        _assert_same_values_and_gradients(
            lambda a, b, f=forward, t=training: conv_paths.conv_planned(
                a, b, strides, padding, dilation, f, t), ref, x, k)


DEPTHWISE = [
    ((2, 9, 9, 4), (3, 3, 1, 8), (2, 1), "same", (1, 1)),
    ((2, 9, 8, 3), (3, 2, 1, 3), (1, 1), ((1, 2), (0, 1)), (2, 1)),
    ((2, 11, 3), (5, 1, 3), (1,), "valid", (1,)),
    ((1, 5, 6, 5, 2), (3, 3, 3, 1, 2), (1, 2, 1), "same", (1, 1, 1)),
]


@pytest.mark.parametrize("index", range(len(DEPTHWISE)))
def test_depthwise_plans_match_xla_grouped_convolution(index):
    x_shape, k_shape, strides, padding, dilation = DEPTHWISE[index]
    x, k = _arrays(6, x_shape, k_shape)
    groups = x_shape[-1]
    plans = [("shifts", "shifts")] + ([("xla", "shifts"), ("shifts", "xla")] if index == 0
                                      else [])
    for forward, training in plans:
        _assert_same_values_and_gradients(
            lambda a, b, f=forward, t=training: conv_paths.grouped_planned(
                a, b, strides, padding, dilation, groups, f, t),
            lambda a, b: lax_conv(a, b, strides, padding, dilation, groups), x, k)
    forced = jax.jit(lambda a, b: convolution.conv(a, b, strides, padding, dilation, groups,
                                                   lowering="shifts"))(x, k)
    np.testing.assert_allclose(forced, lax_conv(x, k, strides, padding, dilation, groups),
                               **TOL)


def test_shifts_needs_a_depthwise_convolution():
    x, k = jnp.zeros((1, 5, 5, 4)), jnp.zeros((3, 3, 2, 4))
    with pytest.raises(ConfigurationError, match=r"'shifts' lowering needs a depthwise "
                                                 r"convolution .*received groups=2"):
        convolution.conv(x, k, (1, 1), "valid", (1, 1), groups=2, lowering="shifts")


@pytest.mark.parametrize("lowering", ["xla", "dilated"])
@pytest.mark.parametrize("case", [((2, 5, 4, 3), (4, 4, 2, 3), (2, 2), ((2, 2), (2, 2)), (1, 1)),
                                  ((2, 6, 3), (3, 2, 3), (3,), ((2, 3),), (1,)),
                                  ((1, 4, 5, 2), (3, 3, 3, 2), (2, 1), ((1, 2), (2, 2)),
                                   (1, 2))], ids=["2d-s2", "1d-s3", "2d-dilated"])
def test_conv_transpose_paths_match_xla(case, lowering):
    x_shape, k_shape, strides, pads, dilation = case
    x, k = _arrays(2, x_shape, k_shape)
    _assert_same_values_and_gradients(
        lambda a, b: transpose.conv_transpose(a, b, strides, pads, dilation, lowering=lowering),
        lambda a, b: lax_conv_transpose(a, b, strides, pads, dilation), x, k)


def test_mixed_conv_transpose_plan_matches_xla(monkeypatch):
    """Evaluated by one lowering, differentiated by the other (the custom_vjp dispatch)."""
    x, k = _arrays(3, (2, 5, 4, 3), (4, 4, 2, 3))
    pads = ((2, 2), (2, 2))
    for plan in (("xla", "dilated"), ("dilated", "xla")):
        monkeypatch.setattr(transpose, "transpose_plan", lambda *a, p=plan: p)
        _assert_same_values_and_gradients(
            lambda a, b: transpose.conv_transpose(a, b, (2, 2), pads, (1, 1)),
            lambda a, b: lax_conv_transpose(a, b, (2, 2), pads, (1, 1)), x, k)


# ---- the autotune ------------------------------------------------------------------------
def test_winner_keeps_the_default_unless_clearly_beaten():
    assert autotune.winner({"xla": 1.0, "patches": 0.99}, "xla") == "xla"
    assert autotune.winner({"xla": 1.0, "patches": 0.9}, "xla") == "patches"
    assert autotune.winner({"xla": 1.0, "patches": 1.5, "hybrid": 0.5}, "xla") == "hybrid"


def test_measure_times_compiled_candidates_on_random_inputs():
    s = jax.ShapeDtypeStruct((4, 4), jnp.float32)
    seen = []

    def spy(a):
        seen.append(a.shape)
        return a @ a

    times = autotune.measure({"mm": spy, "add": lambda a: a + a}, (s,))
    assert set(times) == {"mm", "add"} and all(t > 0 for t in times.values())
    assert seen == [(4, 4)]  # traced once, at compile time; the calls run compiled code


def test_choice_is_timed_once_then_read_from_memory_and_disk(monkeypatch, tmp_path):
    calls = []

    def fake_measure(candidates, structs):
        calls.append(sorted(candidates))
        return {n: {"xla": 2.0, "patches": 1.0, "hybrid": 3.0}[n] for n in candidates}

    monkeypatch.setattr(autotune, "measure", fake_measure)
    key = autotune.decision_key("conv.forward", x=[1, 2])
    candidates = {"xla": None, "patches": None}
    assert autotune.choose(key, candidates, (), "xla") == "patches"
    assert autotune.choose(key, candidates, (), "xla") == "patches"
    assert calls == [["patches", "xla"]]
    assert json.loads((tmp_path / "tune.json").read_text())["entries"] == {key: "patches"}
    autotune.clear_memory()
    assert autotune.choose(key, candidates, (), "xla") == "patches"  # from the file
    assert len(calls) == 1
    # a cached name that is no longer a candidate is timed again
    autotune.clear_memory()
    assert autotune.choose(key, {"xla": None, "hybrid": None}, (), "xla") == "xla"
    assert len(calls) == 2


def test_cache_can_be_memory_only(monkeypatch, tmp_path):
    monkeypatch.setenv("LAMINA_AUTOTUNE_CACHE", "none")
    monkeypatch.setattr(autotune, "measure", lambda c, s: {"xla": 1.0, "patches": 0.1})
    assert autotune.choose("k", {"xla": None, "patches": None}, (), "xla") == "patches"
    assert tuning_cache.cache_path() is None and list(tmp_path.iterdir()) == []


def test_default_cache_lives_under_lamina_home(monkeypatch, tmp_path):
    monkeypatch.delenv("LAMINA_AUTOTUNE_CACHE")
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    assert tuning_cache.cache_path() == str(tmp_path / "home" / "cache" /
                                            "lowering_autotune.json")


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps(["a list"]),
    json.dumps({"format": "pickle", "version": 1, "entries": {}}),
    json.dumps({"format": tuning_cache.FORMAT, "version": 1, "entries": {"k": "os.system"}}),
    json.dumps({"format": tuning_cache.FORMAT, "version": 1, "entries": {"k": ["patches"]}}),
    json.dumps({"format": tuning_cache.FORMAT, "version": 1, "entries": {}, "code": "x"}),
    "[" * 100000,
], ids=["not-json", "list", "format", "dotted-name", "non-string", "extra-key", "deep"])
def test_a_corrupt_or_hostile_cache_is_refused_whole_and_replaced(content, tmp_path,
                                                                  monkeypatch):
    path = tmp_path / "tune.json"
    path.write_text(content)
    with pytest.warns(RuntimeWarning, match="Ignoring the lowering autotune cache"):
        assert tuning_cache.load(str(path)) == {}
    monkeypatch.setattr(autotune, "measure", lambda c, s: {"xla": 1.0, "patches": 0.1})
    with pytest.warns(RuntimeWarning):
        assert autotune.choose("k", {"xla": None, "patches": None}, (), "xla") == "patches"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tuning_cache.load(str(path)) == {"k": "patches"}


def test_an_oversized_or_irregular_cache_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "tune.json"
    tuning_cache.store(str(path), {"k": "xla"})
    monkeypatch.setattr(tuning_cache, "MAX_BYTES", 10)
    with pytest.warns(RuntimeWarning, match="larger than 10 bytes"):
        assert tuning_cache.load(str(path)) == {}
    with pytest.warns(RuntimeWarning, match="not a regular file"):
        assert tuning_cache.load(str(tmp_path)) == {}


def test_store_merges_with_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "tune.json"
    tuning_cache.store(str(path), {"a": "xla"})
    tuning_cache.store(str(path), {"b": "patches"})
    assert tuning_cache.load(str(path)) == {"a": "xla", "b": "patches"}
    assert [p.name for p in path.parent.iterdir()] == ["tune.json"]


# ---- the choice inside conv --------------------------------------------------------------
X_SHAPE, K_SHAPE = (2, 9, 9, 4), (3, 3, 4, 5)


def _lowered(fn, *args):
    return str(jax.make_jaxpr(fn)(*args))


def test_tuned_conv_decides_what_the_traced_program_needs(monkeypatch):
    """Evaluation times only the forward candidates, differentiation only the training
    ones; the chosen paths compute XLA's convolution, values and gradients."""
    monkeypatch.setattr(convolution, "MIN_TUNE_FLOPS", 0)
    monkeypatch.setattr(convolution, "MIN_TUNE_FLOPS_DEPTHWISE", 0)
    decisions = []

    def fake_choose(key, candidates, structs, default, untimed):
        op = json.loads(key)["op"]
        decisions.append((op, sorted(candidates)))
        return {"conv.forward": "patches", "conv.training": "hybrid"}[op]

    monkeypatch.setattr(autotune, "choose", fake_choose)
    x, k = _arrays(4, X_SHAPE, K_SHAPE)
    if jax.default_backend() != "cpu":
        assert convolution.plan(x, k, (1, 1), "same", (1, 1)) == ("xla", "xla")
        return
    assert convolution.plan(x, k, (1, 1), "same", (1, 1)) == (convolution.TUNED,) * 2
    assert decisions == []  # planning times nothing

    def fn(a, b):
        return convolution.conv(a, b, (1, 1), "same", (1, 1))

    np.testing.assert_allclose(jax.jit(fn)(x, k), lax_conv(x, k, (1, 1), "same", (1, 1)),
                               **TOL)
    assert decisions == [("conv.forward", ["patches", "xla"])]
    assert "gather" in _lowered(fn, x, k)  # the forward choice is the program's
    decisions.clear()
    _assert_same_values_and_gradients(fn, lambda a, b: lax_conv(a, b, (1, 1), "same",
                                                                (1, 1)), x, k)
    assert ("conv.training", ["hybrid", "patches", "xla"]) in decisions
    depthwise_kernel = jnp.asarray(_arrays(7, (3, 3, 1, 4))[0])
    monkeypatch.setattr(autotune, "choose", lambda key, c, s, d, u: (
        decisions.append((json.loads(key)["op"], sorted(c))) or "shifts"))
    decisions.clear()
    _assert_same_values_and_gradients(
        lambda a, b: convolution.conv(a, b, (1, 1), "same", (1, 1), groups=4),
        lambda a, b: lax_conv(a, b, (1, 1), "same", (1, 1), 4), x, depthwise_kernel)
    assert sorted(decisions) == [("conv.forward", ["shifts", "xla"]),
                                 ("conv.training", ["shifts", "xla"])]


def test_autotune_end_to_end_on_cpu(monkeypatch):
    """Real timing on tiny shapes: one decision for evaluation, one for training, cached."""
    if jax.default_backend() != "cpu":
        pytest.skip("the autotune runs on CPU only; elsewhere XLA's convolution is used")
    monkeypatch.setattr(convolution, "MIN_TUNE_FLOPS", 0)
    monkeypatch.setattr(autotune, "TUNE_SECONDS", 0.0)
    x, k = _arrays(5, X_SHAPE, K_SHAPE)
    before = autotune.tuning_stats()["decisions"]

    def loss(a, b):
        return jnp.sum(convolution.conv(a, b, (2, 2), "valid", (1, 1)) ** 2)

    jax.jit(loss)(x, k)
    assert autotune.tuning_stats()["decisions"] == before + 1
    jax.jit(jax.grad(loss, (0, 1)))(x, k)
    assert autotune.tuning_stats()["decisions"] == before + 2
    jax.jit(lambda a, b: jax.grad(loss)(a, b) * 2)(x, k)  # a new program, same decisions
    assert autotune.tuning_stats()["decisions"] == before + 2


def test_a_nested_decision_takes_its_untimed_answer(monkeypatch):
    monkeypatch.setattr(autotune, "measure", lambda *a: pytest.fail("nested timing"))
    monkeypatch.setattr(autotune, "_MEASURING", [True])
    candidates = {"xla": None, "patches": None}
    assert autotune.choose("k", candidates, (), "xla", "patches") == "patches"
    assert autotune.choose("k", candidates, (), "xla") == "xla"
    assert autotune.memory() == {}


def test_a_decision_nested_in_a_candidate_is_not_timed(monkeypatch):
    """The "dilated" transpose candidate convolves at the cut batch: that inner convolution
    takes the untimed rule's lowering and leaves nothing in the cache."""
    if jax.default_backend() != "cpu":
        pytest.skip("the autotune runs on CPU only; elsewhere XLA's convolution is used")
    monkeypatch.setattr(convolution, "MIN_TUNE_FLOPS", 0)
    monkeypatch.setattr(convolution, "TUNE_FLOPS", 1)
    monkeypatch.setattr(autotune, "TUNE_SECONDS", 0.0)
    timed = []
    real_measure = autotune.measure
    monkeypatch.setattr(autotune, "measure", lambda c, s: (
        timed.append((sorted(c), s[0].shape)) or real_measure(c, s)))
    x, k = _arrays(8, (4, 5, 4, 3), (3, 3, 2, 3))
    pads = ((1, 2), (1, 2))
    _assert_same_values_and_gradients(
        lambda a, b: transpose.conv_transpose(a, b, (2, 2), pads, (1, 1)),
        lambda a, b: lax_conv_transpose(a, b, (2, 2), pads, (1, 1)), x, k)
    assert timed[0] == (["dilated", "xla"], (1, 5, 4, 3))
    assert all(shape[0] == 1 for _, shape in timed)
    assert all(json.loads(key)["x"][0] == 4 for key in autotune._MEMORY)


@pytest.mark.parametrize("mode,needle,absent", [
    ("xla", "conv_general_dilated", "gather"),
    ("patches", "gather", "conv_general_dilated"),
])
def test_the_switch_pins_a_path(monkeypatch, mode, needle, absent):
    monkeypatch.setenv("LAMINA_CONV_LOWERING", mode)
    monkeypatch.setattr(autotune, "choose", lambda *a: pytest.fail("no timing when pinned"))
    x, k = jnp.zeros(X_SHAPE), jnp.zeros(K_SHAPE)
    used = _lowered(lambda a, b: convolution.conv(a, b, (1, 1), "valid", (1, 1)), x, k)
    assert needle in used and absent not in used


def test_pinned_mode_falls_back_to_xla_where_it_does_not_apply(monkeypatch):
    monkeypatch.setenv("LAMINA_CONV_LOWERING", "shifts")
    x = jnp.zeros((1, 5, 5, 4))
    assert convolution.plan(x, jnp.zeros((3, 3, 1, 4)), (1, 1), "valid", (1, 1),
                            groups=4) == ("shifts", "shifts")
    assert convolution.plan(x, jnp.zeros((3, 3, 4, 4)), (1, 1), "valid", (1, 1)) == (
        "xla", "xla")
    monkeypatch.setenv("LAMINA_CONV_LOWERING", "hybrid")
    x, k = jnp.zeros((1, 5, 5, 4)), jnp.zeros((3, 3, 2, 4))
    assert convolution.plan(x, k, (1, 1), "valid", (1, 1), groups=2) == ("xla", "xla")
    assert convolution.plan(x, jnp.zeros((1, 1, 4, 4)), (1, 1), "valid", (1, 1)) == (
        "hybrid", "hybrid")
    assert convolution.plan(jnp.zeros((1, 2, 2, 4)), jnp.zeros((3, 3, 4, 4)), (1, 1),
                            "valid", (1, 1)) == ("xla", "xla")  # no output
    assert convolution.plan(x, jnp.zeros((3, 3, 4, 4)), (1, 1), "valid", (1, 1)) == (
        "hybrid", "hybrid")


def test_pinned_modes_of_conv_transpose(monkeypatch):
    x, k = jnp.zeros((1, 4, 4, 3)), jnp.zeros((3, 3, 2, 3))
    monkeypatch.setenv("LAMINA_CONV_LOWERING", "xla")
    assert transpose.transpose_plan(x, k, (2, 2), ((1, 1), (1, 1)), (1, 1)) == ("xla", "xla")
    assert "lhs_dilation=(2, 2)" in _lowered(
        lambda a, b: transpose.conv_transpose(a, b, (2, 2), ((1, 1), (1, 1)), (1, 1)), x, k)
    monkeypatch.setenv("LAMINA_CONV_LOWERING", "patches")
    assert transpose.transpose_plan(x, k, (2, 2), ((1, 1), (1, 1)), (1, 1)) == (
        "dilated", "dilated")


def test_heuristic_mode_never_times(monkeypatch):
    monkeypatch.setenv("LAMINA_CONV_LOWERING", "heuristic")
    monkeypatch.setattr(convolution, "MIN_TUNE_FLOPS", 0)
    monkeypatch.setattr(autotune, "choose", lambda *a: pytest.fail("heuristic mode timed"))
    x, k = jnp.zeros(X_SHAPE), jnp.zeros(K_SHAPE)
    expected = convolution.select_conv_lowering(jax.default_backend(), X_SHAPE, K_SHAPE,
                                                (1, 1), "valid", (1, 1))
    assert convolution.plan(x, k, (1, 1), "valid", (1, 1)) == (expected, expected)


def test_an_unknown_mode_or_lowering_is_refused(monkeypatch):
    x, k = jnp.zeros(X_SHAPE), jnp.zeros(K_SHAPE)
    monkeypatch.setenv("LAMINA_CONV_LOWERING", "fastest")
    with pytest.raises(ConfigurationError, match=r"LAMINA_CONV_LOWERING: expected one of "
                                                 r".*'auto'.*received 'fastest'"):
        convolution.conv(x, k, (1, 1), "valid", (1, 1))
    with pytest.raises(ConfigurationError, match=r"conv_transpose: expected lowering .*"
                                                 r"received 'patches'"):
        transpose.conv_transpose(x, k, (1, 1), ((0, 0), (0, 0)), (1, 1), lowering="patches")


def test_candidates_are_timed_on_a_batch_cut_to_the_flop_budget(monkeypatch):
    monkeypatch.setattr(convolution, "TUNE_FLOPS", 1000)
    x, k = jnp.zeros((64, 4, 4, 2)), jnp.zeros((3, 3, 2, 2))
    assert convolution.tuning_structs(x, k, 8000)[0].shape == (8, 4, 4, 2)
    assert convolution.tuning_structs(x, k, 10**9)[0].shape == (1, 4, 4, 2)
    assert convolution.tuning_structs(x, k, 10)[0].shape == (64, 4, 4, 2)
    assert convolution.tuning_structs(x, k, 10)[1].shape == k.shape
