"""`lamina.tree` against `keras.tree`, `lamina.config` against `keras.config`, and the
top-level names issue 15 asks for (`lm.Layer`, `lm.tree`, `lm.config`, `lm.datasets`,
`saving.register_keras_serializable`)."""
import collections

import jax
import keras
import numpy as np
import pytest

import lamina as lm

Point = collections.namedtuple("Point", "x y")
STRUCTURES = [1, None, [], (), {}, [1, [2, None]], {"b": 1, "a": (2, 3)}, Point(1, [2, 3]),
              (1,), {"x": {"z": 1, "y": None}}, collections.OrderedDict(b=1, a=2),
              [np.ones(2), {"k": (None, 4)}]]


@pytest.mark.parametrize("structure", STRUCTURES, ids=range(len(STRUCTURES)))
def test_tree_reads_structures_as_keras_does(structure):
    for name in ("flatten", "is_nested", "flatten_with_path", "lists_to_tuples"):
        ours, theirs = getattr(lm.tree, name)(structure), getattr(keras.tree, name)(structure)
        assert repr(ours) == repr(theirs), name
    def double(x):
        return None if x is None else x * 2
    assert repr(lm.tree.map_structure(double, structure)) == repr(
        keras.tree.map_structure(double, structure))
    flat = list(range(len(keras.tree.flatten(structure))))
    assert repr(lm.tree.pack_sequence_as(structure, flat)) == repr(
        keras.tree.pack_sequence_as(structure, flat))


def test_tree_structure_checks_match_keras():
    for a, b in [([1, 2], [3, 4]), ({"a": 1}, {"a": None}), ((1, [2]), (1, [2]))]:
        lm.tree.assert_same_structure(a, b)
        keras.tree.assert_same_structure(a, b)
    for a, b in [([1, 2], [1]), ([1, [2]], [1, 2]), ({"a": 1}, {"b": 1}), ([1], (1,))]:
        with pytest.raises(ValueError):
            keras.tree.assert_same_structure(a, b)
        with pytest.raises(lm.InputSpecError):
            lm.tree.assert_same_structure(a, b)
    lm.tree.assert_same_paths([1, 2], (3, 4))
    with pytest.raises(lm.InputSpecError, match="missing"):
        lm.tree.assert_same_paths([1, 2], [1])
    with pytest.raises(lm.InputSpecError, match="3 values"):
        lm.tree.pack_sequence_as([1, 2], [1, 2, 3])


def test_tree_traverse_map_up_to_and_shapes_match_keras():
    structure = [1, (2, [3]), {"a": 4}]
    for top_down in (True, False):
        def visit(x):
            if isinstance(x, list) and len(x) == 1:
                return lm.tree.MAP_TO_NONE
            return None

        def visit_k(x):
            if isinstance(x, list) and len(x) == 1:
                return keras.tree.MAP_TO_NONE
            return None

        assert lm.tree.traverse(visit, structure, top_down) == keras.tree.traverse(
            visit_k, structure, top_down)
    shallow, deep = [0, 0], [[1, 2], {"a": 3}]
    assert lm.tree.map_structure_up_to(shallow, len, deep) == keras.tree.map_structure_up_to(
        shallow, len, deep)
    shapes = {"a": (None, 3), "b": [(2,), (4, 5)]}
    assert lm.tree.map_shape_structure(len, shapes) == keras.tree.map_shape_structure(
        len, shapes)
    assert lm.tree.map_structure(lambda a, b: a + b, [1, {"k": 2}], [10, {"k": 20}]) == [
        11, {"k": 22}]


@pytest.fixture
def restore_config():
    yield
    lm.config.set_floatx("float32")
    lm.config.set_epsilon(1e-7)
    lm.config.set_image_data_format("channels_last")
    lm.config.enable_traceback_filtering()
    lm.config.enable_flash_attention()
    lm.mixed_precision.set_global_policy(None)


def test_config_defaults_and_setters_match_keras(restore_config):
    assert lm.config.backend() == keras.config.backend() == "jax"
    for name in ("floatx", "epsilon", "image_data_format", "is_flash_attention_enabled",
                 "is_traceback_filtering_enabled"):
        assert getattr(lm.config, name)() == getattr(keras.config, name)(), name
    lm.config.set_epsilon(1e-5)
    lm.config.set_image_data_format("channels_first")
    assert (lm.config.epsilon(), lm.config.image_data_format()) == (1e-5, "channels_first")
    lm.config.disable_flash_attention()
    assert lm.config.is_flash_attention_enabled() is False
    lm.config.enable_flash_attention()
    assert lm.config.is_flash_attention_enabled() is None  # Keras's "auto"
    with pytest.raises(lm.ConfigurationError, match="channels_first"):
        lm.config.set_image_data_format("nhwc")
    with pytest.raises(lm.ConfigurationError, match="float32"):
        lm.config.set_floatx("int8")


def test_set_floatx_sets_the_dtype_of_new_layers_unless_a_mixed_policy_is_set(restore_config):
    lm.config.set_floatx("bfloat16")
    dense = lm.layers.Dense(2)
    dense.build((None, 3))
    assert lm.config.floatx() == "bfloat16" and dense.kernel.value.dtype == jax.numpy.bfloat16
    assert lm.config.dtype_policy().name == "bfloat16"
    lm.config.set_dtype_policy("mixed_float16")
    lm.config.set_floatx("float32")
    assert lm.mixed_precision.global_policy().name == "mixed_float16"


def test_traceback_filtering_switches_jax(restore_config):
    lm.config.disable_traceback_filtering()
    assert jax.config.jax_traceback_filtering == "off"
    assert not lm.config.is_traceback_filtering_enabled()
    lm.config.enable_traceback_filtering()
    assert lm.config.is_traceback_filtering_enabled()


def test_enable_compilation_cache_points_jax_at_the_folder(tmp_path):
    before = (jax.config.jax_compilation_cache_dir,
              jax.config.jax_persistent_cache_min_compile_time_secs)
    try:
        lm.config.enable_compilation_cache(tmp_path / "xla", min_compile_time_secs=0.5)
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "xla")
        assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.5
    finally:
        jax.config.update("jax_compilation_cache_dir", before[0])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", before[1])


def test_top_level_names():
    assert lm.Layer is lm.layers.Layer
    assert lm.tree.flatten is not None and lm.config.floatx() == "float32"
    assert lm.datasets.mnist.load_data and lm.datasets.imdb.get_word_index
    assert lm.saving.register_keras_serializable is lm.utils.register_keras_serializable


def test_register_keras_serializable_uses_keras_registered_names(tmp_path):
    @lm.saving.register_keras_serializable(package="MyPkg")
    class Scale(lm.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    config = lm.saving.serialize(Scale(3.0))
    assert config["class_name"] == "MyPkg>Scale"
    assert keras.saving.get_registered_name(Scale) == "Scale"  # never registered in Keras
    rebuilt = lm.saving.deserialize(config)
    assert type(rebuilt) is Scale and rebuilt.factor == 3.0

    @lm.saving.register_keras_serializable("MyPkg", name="twice")
    def twice(x):
        return 2 * x

    assert lm.saving.deserialize({"class_name": "MyPkg>Scale", "config": {"factor": 1.0}})
    assert lm.layers.Lambda(twice).get_config()["function"] == "MyPkg>twice"
