"""The `.keras` and `.weights.h5` files written by the lamina run of the ported guide
`examples/keras_guides/serialization_and_saving.py` load in Keras 3 with lamina's
predictions (the guide itself runs under both libraries in tests/test_keras_guides.py)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lamina as lm

os.environ.setdefault("KERAS_BACKEND", "jax")
pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:keras(\..*)?")
ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "examples" / "keras_guides" / "serialization_and_saving.py"


def test_files_written_by_the_lamina_guide_run_load_in_keras(tmp_path):
    keras = pytest.importorskip("keras")
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, str(GUIDE)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    x = np.random.default_rng(1).random((8, 32)).astype("float32")
    ours = lm.models.load_model(tmp_path / "my_model.keras")
    theirs = keras.models.load_model(tmp_path / "my_model.keras")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours.predict(x, verbose=0),
                               atol=1e-6)
    assert type(theirs.optimizer).__name__ == type(ours.optimizer).__name__ == "Adam"
    digits = np.random.default_rng(2).random((4, 784)).astype("float32")
    sequential = [lm.Sequential, keras.Sequential]
    built = []
    for module, cls in ((lm, sequential[0]), (keras, sequential[1])):
        model = cls([module.Input(shape=(784,)), module.layers.Dense(64, activation="relu"),
                     module.layers.Dense(64, activation="relu"), module.layers.Dense(10)])
        model.load_weights(tmp_path / "my_model.weights.h5")
        built.append(model.predict(digits, verbose=0))
    np.testing.assert_allclose(built[1], built[0], atol=1e-6)
