"""lamina.distribution in this (1-device) process: settings, layout rules and their errors.

Several devices: test_multidevice.py (4 forced CPU devices) and test_multiprocess.py (two
processes joined by jax.distributed).
"""
import threading

import digits
import jax
import numpy as np
import pytest

from lamina import distribution as ld
from lamina.errors import ConfigurationError
from lamina.training.trainer import Trainer

CPU = jax.devices()[0]
SHAPES = {"hidden/kernel": (64, 32), "hidden/bias": (32,), "head/kernel": (32, 10),
          "head/bias": (10,)}


# -- LayoutMap ----------------------------------------------------------------------------
def test_layout_rules_resolve_per_variable_path():
    layout = ld.LayoutMap({"kernel": (None, "model"), "hidden/bias": ("model",)})
    layout["^head/bias$"] = ()
    assert layout.resolve(SHAPES, "m") == {"hidden/kernel": (None, "model"),
                                           "hidden/bias": ("model",),
                                           "head/kernel": (None, "model"), "head/bias": ()}


def test_an_exact_path_wins_over_patterns():
    layout = ld.LayoutMap({"kernel": (None, "model"), "head/kernel": ("model", None)})
    assert layout.match("head/kernel") == ("head/kernel", ("model", None))
    assert layout.match("hidden/kernel") == ("kernel", (None, "model"))
    assert layout.match("hidden/bias") is None  # replicated


def test_two_rules_matching_one_variable():
    layout = ld.LayoutMap({"kernel": (None, "model"), "hidden/.*": (None, "model")})
    with pytest.raises(ConfigurationError, match=r"the variable 'hidden/kernel' is matched by "
                       r"several rules \['kernel', 'hidden/\.\*'\]"):
        layout.resolve(SHAPES, "m")


def test_a_rule_matching_no_variable():
    layout = ld.LayoutMap({"hidden/kernel": (None, "model"), "dense_7/kernel": (None, "model")})
    with pytest.raises(ConfigurationError, match=r"the rules \['dense_7/kernel'\] match no "
                       r"variable of model 'mlp'.*paths like \['hidden/kernel'"):
        layout.resolve(SHAPES, "mlp")


@pytest.mark.parametrize("spec, message", [
    ("model", r"expected a tuple with one entry per dimension .* received 'model'"),
    ((None, 3), r"entry 3 of \(None, 3\) is not None, an axis name or a tuple"),
])
def test_bad_specs(spec, message):
    with pytest.raises(ConfigurationError, match=message):
        ld.LayoutMap({"kernel": spec})


def test_bad_patterns():
    with pytest.raises(ConfigurationError, match=r"the key 'kernel\[' is not a valid regular"):
        ld.LayoutMap({"kernel[": (None,)})
    with pytest.raises(ConfigurationError, match=r"expected a string pattern as key, received 3"):
        ld.LayoutMap({3: (None,)})


def test_a_spec_longer_than_the_variable_rank():
    layout = ld.LayoutMap({"bias": (None, "model")})
    with pytest.raises(ConfigurationError, match=r"spec \(None, 'model'\) has 2 entries but "
                       r"the variable 'hidden/bias' of model 'm' has shape \(32,\)"):
        layout.resolve({"hidden/bias": (32,)}, "m")


# -- meshes and distributions ---------------------------------------------------------------
def test_device_mesh_checks_its_shape_and_names():
    mesh = ld.DeviceMesh((1, 1), ("batch", "model"), [CPU])
    assert mesh.axis_size("model") == 1 and mesh.jax_mesh.axis_names == ("batch", "model")
    with pytest.raises(ConfigurationError, match=r"shape \(2,\) holds 2 devices, received 1"):
        ld.DeviceMesh((2,), ("batch",), [CPU])
    with pytest.raises(ConfigurationError, match=r"one axis name \(a string\) per axis of "
                       r"shape \(1, 1\), received axis_names \('batch',\)"):
        ld.DeviceMesh((1, 1), ("batch",), [CPU])
    with pytest.raises(ConfigurationError, match=r"axis names \('x', 'x'\) repeat a name"):
        ld.DeviceMesh((1, 1), ("x", "x"), [CPU])
    with pytest.raises(ConfigurationError, match=r"device ids \[0\] appear more than once"):
        ld.DeviceMesh((2,), ("batch",), [CPU, CPU])
    with pytest.raises(ConfigurationError, match=r"expected jax devices .* received 'cpu:0'"):
        ld.DeviceMesh((1,), ("batch",), ["cpu:0"])


def test_distribution_arguments():
    mesh = ld.DeviceMesh((1,), ("batch",), [CPU])
    assert ld.DataParallel().batch_shards == jax.device_count()
    assert ld.DataParallel(mesh=mesh).batch_dim_name == "batch"
    with pytest.raises(ConfigurationError, match=r"pass either `devices` or `mesh`"):
        ld.DataParallel(devices=[CPU], mesh=mesh)
    with pytest.raises(ConfigurationError, match=r"expected a mesh with one axis"):
        ld.DataParallel(mesh=ld.DeviceMesh((1, 1), ("batch", "model"), [CPU]))
    with pytest.raises(ConfigurationError, match=r"expected mesh to be a .*DeviceMesh"):
        ld.DataParallel(mesh=mesh.jax_mesh)
    grid = ld.DeviceMesh((1, 1), ("data", "model"), [CPU])
    assert ld.ModelParallel({"kernel": (None, "model")}, mesh=grid).batch_dim_name == "data"
    with pytest.raises(ConfigurationError, match=r"batch_dim_name 'batch' is not an axis"):
        ld.ModelParallel({"kernel": (None, "model")}, mesh=grid, batch_dim_name="batch")
    with pytest.raises(ConfigurationError, match=r"names axis 'tensor', which the mesh does "
                       r"not have \(its axes are \('data', 'model'\)\)"):
        ld.ModelParallel({"kernel": (None, "tensor")}, mesh=grid)
    with pytest.raises(ConfigurationError, match=r"expected mesh to be a DeviceMesh \(or a "
                       r"LayoutMap built with one\), received None"):
        ld.ModelParallel({"kernel": (None, "model")})
    with pytest.raises(ConfigurationError, match=r"layout map was written for DeviceMesh\(shape"
                       r"=\(1, 1\), axis_names=\('data', 'model'\).*but the distribution uses"):
        ld.ModelParallel(ld.LayoutMap({"kernel": (None, "model")}, mesh=grid),
                         mesh=ld.DeviceMesh((1, 1), ("batch", "model"), [CPU]))


# -- the scoped setting ---------------------------------------------------------------------
def test_scope_is_a_context_variable_that_never_leaks():
    outer, inner = ld.DataParallel(), ld.DataParallel(devices=[CPU])
    assert ld.current() is None
    with ld.scope(outer):
        assert ld.current() is outer
        with inner.scope():
            assert ld.current() is inner
        assert ld.current() is outer
        seen = []
        thread = threading.Thread(target=lambda: seen.append(ld.current()))
        thread.start()
        thread.join()
        assert seen == [None]  # a new thread starts outside every scope
    with pytest.raises(RuntimeError, match="inside"), ld.scope(outer):
        raise RuntimeError("inside")
    assert ld.current() is None


def test_scope_and_compile_refuse_other_objects():
    with pytest.raises(ConfigurationError, match=r"expected a DataParallel or ModelParallel "
                       r"instance, received 'data_parallel'"), ld.scope("data_parallel"):
        pass
    model = digits.build()
    with pytest.raises(ConfigurationError, match=r"Model 'digits_mlp'.compile\(distribution="
                       r"\.\.\.\): expected a lamina.distribution.DataParallel or ModelParallel"):
        Trainer(model, "adam", "mse", None, None, distribution=jax.sharding.Mesh(
            np.array([CPU]), ("batch",)))


# -- one device -----------------------------------------------------------------------------
def test_data_parallel_on_one_device_is_bitwise_the_plain_fit():
    x, y = digits.data()
    plain, model = digits.build(), digits.build()
    plain.fit(x, y, batch_size=128, epochs=1, seed=3, verbose=0)
    with ld.scope(ld.DataParallel(devices=[CPU])):
        model.fit(x, y, batch_size=128, epochs=1, seed=3, verbose=0)
        [step] = model._trainer.compiled_steps("train")
    assert step.jitted._cache_size() == 1  # compiled once for all 14 steps
    for a, b in zip(plain.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(a, b)
