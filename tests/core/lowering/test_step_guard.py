"""The step guard: a compiled train step keeps its autotuned convolution lowerings only where
the whole step runs faster than the same step on XLA's lowering everywhere, with XLA:CPU's
default options and on XLA's own (Eigen) convolution kernels.

The timing itself is replaced by fixed figures where a test needs a given verdict; the
programs are real. References: the same model trained with `LAMINA_CONV_LOWERING` pinned
to the lowering the guard should have chosen (the same program, so bitwise the same
weights), and a Dense model whose step uses no convolution at all.
"""
import json
import os

import jax
import numpy as np
import pytest

import lamina as lm
from lamina.core.lowering import autotune, convolution, step_guard
from lamina.errors import ConfigurationError


def _patches_wins(candidates, structs):
    return {name: 1.0 if name == "patches" else 2.0 for name in candidates}


@pytest.fixture(autouse=True)
def _auto_mode(monkeypatch, tmp_path):
    """The default "auto" mode with a cache file of this test's own and an empty memory;
    every convolution tuned (no size threshold), "patches" timed fastest."""
    monkeypatch.setenv("LAMINA_AUTOTUNE_CACHE", str(tmp_path / "tune.json"))
    monkeypatch.delenv("LAMINA_CONV_LOWERING", raising=False)
    monkeypatch.setattr(convolution, "MIN_TUNE_FLOPS", 0)
    monkeypatch.setattr(autotune, "measure", _patches_wins)
    autotune.clear_memory()
    yield
    autotune.clear_memory()


def _data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((16, 10, 10, 3)).astype("float32"),
            rng.integers(0, 4, 16).astype("int32"))


def _cnn():
    lm.utils.set_random_seed(3)
    model = lm.Sequential([
        lm.Input((10, 10, 3)), lm.layers.Conv2D(8, 3, activation="relu"),
        lm.layers.Flatten(), lm.layers.Dense(4)])
    model.compile(optimizer=lm.optimizers.Adam(0.01),
                  loss=lm.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _trained(monkeypatch, pin=None, times=None, steps=2):
    """Weights after `steps` train_on_batch calls; `pin` sets LAMINA_CONV_LOWERING, `times`
    replaces the guard's timing ({"tuned": s, "xla": s, ...}); returns (weights, measure
    calls)."""
    if pin is not None:
        monkeypatch.setenv("LAMINA_CONV_LOWERING", pin)
    calls = []
    if times is not None:
        def fake_measure(programs, args, donated):
            calls.append(sorted(programs))
            return dict(times)

        monkeypatch.setattr(step_guard, "measure", fake_measure)
    model = _cnn()
    x, y = _data()
    for _ in range(steps):
        model.train_on_batch(x, y)
    monkeypatch.delenv("LAMINA_CONV_LOWERING", raising=False)
    return [np.asarray(w) for w in model.get_weights()], calls


def _assert_bitwise(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("times, same_as", [
    ({"tuned": 2.0, "xla": 1.0, "xla_eigen": 3.0}, "xla"),
    ({"tuned": 1.0, "xla": 2.0, "xla_eigen": 3.0}, "patches"),
    # within autotune.MARGIN the default, XLA's, is kept
    ({"tuned": 0.99, "xla": 1.0, "xla_eigen": 0.98}, "xla"),
])
def test_the_step_runs_the_program_timed_faster(monkeypatch, times, same_as):
    # the autotune picks "patches", the heuristic's choice too: three distinct programs
    guarded, calls = _trained(monkeypatch, times=times)
    assert calls == [["tuned", "xla", "xla_eigen"]]  # timed once, at the first step
    reference, _ = _trained(monkeypatch, pin=same_as)
    _assert_bitwise(guarded, reference)
    other = "patches" if same_as == "xla" else "xla"
    differs, _ = _trained(monkeypatch, pin=other)
    assert any(not np.array_equal(u, v) for u, v in zip(guarded, differs, strict=True))


def test_the_heuristic_program_is_a_candidate_where_the_autotune_chose_otherwise(monkeypatch):
    """The convolution tuned (threshold lowered) to "hybrid" by fixed per-shape timings; the
    step's timings then make the "heuristic" program ("patches") the fastest."""
    monkeypatch.setattr(autotune, "measure", lambda candidates, structs: {
        name: (1.0 if name == "hybrid" else 2.0) for name in candidates})
    guarded, calls = _trained(monkeypatch, times={"tuned": 2.0, "heuristic": 1.0, "xla": 3.0,
                                                  "xla_eigen": 3.0})
    assert calls == [["heuristic", "tuned", "xla", "xla_eigen"]]
    reference, _ = _trained(monkeypatch, pin="patches")
    _assert_bitwise(guarded, reference)


def test_a_step_slow_to_compile_keeps_its_tuned_program_untimed(monkeypatch):
    monkeypatch.setattr(step_guard, "MAX_COMPILE_SECONDS", -1.0)
    guarded, calls = _trained(monkeypatch, times={"tuned": 2.0, "xla": 1.0})
    assert calls == []
    assert [v for k, v in _entries().items() if json.loads(k)["op"] == "step"] == ["tuned"]
    reference, _ = _trained(monkeypatch, pin="patches")
    _assert_bitwise(guarded, reference)


def test_timing_runs_leave_the_live_state_untouched(monkeypatch):
    """The real guard runs the programs on copies: the weights after two steps are those of
    two plain steps of the program it chose."""
    guarded, _ = _trained(monkeypatch)
    (verdict,) = [v for k, v in _entries().items() if json.loads(k)["op"] == "step"]
    reference, _ = _trained(monkeypatch, pin="patches" if verdict == "tuned" else "xla")
    _assert_bitwise(guarded, reference)


def _entries():
    with open(os.environ["LAMINA_AUTOTUNE_CACHE"]) as f:
        return json.load(f)["entries"]


def test_the_verdict_is_cached_on_disk_and_read_by_the_next_process(monkeypatch):
    _trained(monkeypatch, times={"tuned": 1.0, "xla": 2.0})
    verdicts = {json.loads(k)["op"]: v for k, v in _entries().items()}
    assert verdicts == {"step": "tuned", "conv.training": "patches"}  # no forward: training only
    autotune.clear_memory()  # as a new process: only the file remembers
    again, calls = _trained(monkeypatch, times={"tuned": 2.0, "xla": 1.0})
    assert calls == []
    reference, _ = _trained(monkeypatch, pin="patches")
    _assert_bitwise(again, reference)


def test_a_step_without_other_lowerings_is_neither_recompiled_nor_timed(monkeypatch):
    calls = []
    monkeypatch.setattr(step_guard, "measure", lambda *a: calls.append(a) or {})
    model = lm.Sequential([lm.Input((5,)), lm.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(np.ones((4, 5), "float32"), np.zeros((4, 3), "float32"))
    assert calls == []


def test_a_convolution_too_small_to_time_is_xla_s_and_only_eigen_s_kernels_are_timed(
        monkeypatch):
    """The step lowers its convolution as XLA does: the one other candidate is that program
    on XLA's own kernels."""
    monkeypatch.setattr(convolution, "MIN_TUNE_FLOPS", 2**22)  # the default; this one: 2^18
    monkeypatch.setattr(autotune, "measure", lambda *a: pytest.fail("a small conv was timed"))
    guarded, calls = _trained(monkeypatch, times={"tuned": 1.0, "xla_eigen": 2.0})
    assert calls == [["tuned", "xla_eigen"]]
    reference, _ = _trained(monkeypatch, pin="xla")
    _assert_bitwise(guarded, reference)


def test_the_step_runs_xla_s_lowering_on_eigen_kernels_when_timed_fastest(monkeypatch):
    offered = []
    candidates = step_guard.candidates
    monkeypatch.setattr(step_guard, "candidates",
                        lambda *a: offered.append(candidates(*a)) or offered[-1])
    model = _cnn()
    monkeypatch.setattr(step_guard, "measure", lambda programs, args, donated: {
        "tuned": 3.0, "heuristic": 3.0, "xla": 2.0, "xla_eigen": 1.0})
    x, y = _data()
    model.train_on_batch(x, y)
    (step,) = model._trainer.compiled_steps("train")
    assert step.jitted is offered[0]["xla_eigen"]


def _conv_step(kernel, x):
    """A step's shape: the donated state (`kernel`) comes back updated."""
    return kernel * 0.5, convolution.conv(x, kernel, (1, 1), "valid", (1, 1))


def test_the_eigen_program_compiles_its_convolutions_without_ynnpack():
    """`EIGEN_CONVOLUTIONS` takes the convolutions from YNNPACK and leaves the rest of the
    program as XLA:CPU's defaults compile it (a program without convolution is unchanged)."""
    x = jax.numpy.ones((8, 13, 13, 32))
    kernel = jax.numpy.ones((3, 3, 32, 64))
    programs = step_guard.candidates(jax.jit(_conv_step), _conv_step)
    eigen = programs["xla_eigen"].lower(kernel, x).compile().as_text()
    assert "convolution(" in eigen
    assert not any("ynn" in line for line in eigen.splitlines() if "convolution(" in line)
    dense = jax.numpy.ones((64, 32)), jax.numpy.ones((32, 16))
    with_default, with_eigen = (
        jax.jit(lambda a, b: jax.numpy.tanh(a @ b).sum(0), **options).lower(*dense).compile()
        for options in ({}, {"compiler_options": step_guard.EIGEN_CONVOLUTIONS}))
    assert with_default.as_text() == with_eigen.as_text()


def test_a_jaxlib_refusing_the_eigen_options_leaves_that_candidate_out(monkeypatch):
    monkeypatch.setattr(step_guard, "EIGEN_CONVOLUTIONS",
                        {"xla_cpu_experimental_ynn_fusion_type": "NO_SUCH_FUSION_TYPE"})
    guarded, calls = _trained(monkeypatch, times={"tuned": 2.0, "xla": 1.0})
    assert calls == [["tuned", "xla"]]
    reference, _ = _trained(monkeypatch, pin="xla")
    _assert_bitwise(guarded, reference)


@pytest.mark.parametrize("mode", ["heuristic", "xla", "patches"])
def test_only_the_auto_mode_is_guarded(monkeypatch, mode):
    _, calls = _trained(monkeypatch, pin=mode, times={"tuned": 1.0, "xla": 2.0})
    assert calls == []


def test_recording_notes_the_lowerings_a_trace_uses():
    x = jax.ShapeDtypeStruct((2, 10, 10, 3), "float32")
    k = jax.ShapeDtypeStruct((3, 3, 3, 8), "float32")

    def traced():
        """A new function each time, so JAX traces it again (no cached trace)."""
        return jax.jit(lambda a, b: convolution.conv(a, b, (1, 1), "valid", (1, 1))).lower(x, k)

    with autotune.recording() as used:
        traced()
    assert used == [("conv x=[2, 10, 10, 3] kernel=[3, 3, 3, 8] strides=[1, 1] padding=valid "
                     "dilation=[1, 1] groups=1", "patches_patches")]
    with autotune.recording() as used, convolution.pinned("xla"):
        traced()
    assert [lowering for _, lowering in used] == ["xla"]
    with autotune.recording() as outer:
        with autotune.recording() as inner:
            traced()
        traced()
    assert len(outer) == len(inner) == 1


def test_pinned_overrides_the_environment_and_refuses_unknown_names(monkeypatch):
    monkeypatch.setenv("LAMINA_CONV_LOWERING", "patches")
    with convolution.pinned("xla"):
        assert convolution.mode() == "xla"
    assert convolution.mode() == "patches"
    with pytest.raises(ConfigurationError, match=r"expected one of .*received 'fast'"):
        with convolution.pinned("fast"):
            pass


def test_shape_inference_times_no_convolution(monkeypatch):
    """Building a model and its trainer only traces shapes: no decision is timed until a
    program that runs needs one."""
    timed = []
    monkeypatch.setattr(autotune, "measure",
                        lambda candidates, structs: timed.append(sorted(candidates))
                        or _patches_wins(candidates, structs))
    model = _cnn()
    assert model.compute_output_spec(jax.ShapeDtypeStruct((5, 10, 10, 3), "float32")).shape \
        == (5, 4)
    assert timed == []
    x, _ = _data()
    model.predict(x, verbose=0)
    assert timed == [["patches", "xla"]]  # the predict program's forward decision
