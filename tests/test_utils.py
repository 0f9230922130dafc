"""plot_model's graph (DOT) and image, and set_random_seed's bitwise reproducibility."""
import re
import shutil

import numpy as np
import pytest

import lamina as lm
from lamina.errors import ConfigurationError


def _gan_like():
    shared = lm.layers.Dense(3, name="shared")
    i = lm.Input((4,), name="inner_in")
    inner = lm.Model(i, lm.layers.Dense(3, name="d_in")(i), name="inner")
    o = lm.Input((4,), name="outer_in")
    outer = lm.Model(o, lm.layers.Dense(1, name="head")(shared(inner(o))), name="outer")
    i2 = lm.Input((3,), name="other_in")
    other = lm.Model(i2, shared(i2), name="other")
    return outer, inner, other


def _boxes(dot):
    """{label first line: (node id, attributes)} of the DOT boxes."""
    found = {}
    for node_id, attrs in re.findall(r"^\s*(n\d+) \[(.*)\];$", dot, re.M):
        label = re.search(r'label="([^"]*)"', attrs).group(1)
        found[label.split("\\n")[0]] = (node_id, attrs)
    return found


def test_dot_has_clusters_shared_marks_frozen_colours_and_edges():
    outer, inner, other = _gan_like()
    outer.freeze("head")
    inner.trainable = False
    dot = lm.utils.model_to_dot(outer, show_shapes=True)
    boxes = _boxes(dot)
    assert set(boxes) == {"outer_in (InputLayer)", "inner_in (InputLayer)", "d_in (Dense)",
                          "shared (Dense)", "head (Dense)"}
    assert "subgraph cluster_" in dot and "label=\"inner (Model)\\nfrozen: 'inner.trainable' " \
                                          "is False\"" in dot
    shared_id, shared_attrs = boxes["shared (Dense)"]
    assert 'peripheries="2"' in shared_attrs and "shared with other" in shared_attrs
    assert 'fillcolor="#cfe2f3"' in boxes["d_in (Dense)"][1]  # frozen by a flag: blue
    head_attrs = boxes["head (Dense)"][1]
    assert 'fillcolor="#d9d9d9"' in head_attrs  # frozen by a scoped freeze: grey
    assert "frozen: 'outer' froze 'head' in its scope (outer.freeze)" in head_attrs
    assert 'fillcolor="#ffffff"' in shared_attrs and "output: (None, 3)" in shared_attrs
    edges = set(re.findall(r"^\s*(n\d+) -> (n\d+);$", dot, re.M))
    ids = {name: node_id for name, (node_id, _) in boxes.items()}
    assert edges == {(ids["outer_in (InputLayer)"], ids["inner_in (InputLayer)"]),
                     (ids["inner_in (InputLayer)"], ids["d_in (Dense)"]),
                     (ids["d_in (Dense)"], ids["shared (Dense)"]),
                     (ids["shared (Dense)"], ids["head (Dense)"])}
    # the same model gives the same DOT
    assert lm.utils.model_to_dot(outer, show_shapes=True) == dot


def test_plot_model_writes_dot_text_and_renders_images(tmp_path):
    outer, _, _ = _gan_like()
    source = lm.utils.plot_model(outer, to_file=tmp_path / "m.dot")
    assert (tmp_path / "m.dot").read_text() == source
    if shutil.which("dot") is None:
        with pytest.raises(ConfigurationError, match="needs Graphviz's `dot` program"):
            lm.utils.plot_model(outer, to_file=tmp_path / "m.png")
        pytest.skip("Graphviz is not installed here (CI installs it)")
    lm.utils.plot_model(outer, to_file=tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ConfigurationError, match="expected rankdir 'TB' or 'LR'"):
        lm.utils.plot_model(outer, to_file=tmp_path / "x.png", rankdir="XY")


def _run(seed):
    lm.reset_names()
    lm.utils.set_random_seed(seed)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = rng.integers(0, 3, size=(64,))
    model = lm.Sequential([lm.Input((6,)), lm.layers.Dense(16, activation="relu"),
                           lm.layers.Dropout(0.3), lm.layers.Dense(3)])
    model.compile(lm.optimizers.Adam(0.01),
                  lm.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.25)
    return model.get_weights()


def test_the_same_seed_gives_bitwise_identical_training():
    first, second, other = _run(7), _run(7), _run(8)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    with pytest.raises(ValueError, match="expected a non-negative integer, received -1"):
        lm.utils.set_random_seed(-1)
