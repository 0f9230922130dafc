"""Keras 3 guides ported to lamina by one changed import (`examples/keras_guides/`).

Each guide runs twice in fresh processes, once with `import lamina as keras` (as written)
and once with `import keras` (Keras 3, JAX backend); both must succeed and print results
that agree within the guide's own `GUIDE_TOLERANCE`. See examples/keras_guides/README.md.
"""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = sorted((ROOT / "examples" / "keras_guides").glob("*.py"))
LAMINA_IMPORT = "import lamina as keras"

pytestmark = pytest.mark.slow


def _tolerances(source):
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
                "GUIDE_TOLERANCE"]:
            return ast.literal_eval(node.value)
    return {}


def _run(source, workdir):
    env = dict(os.environ, KERAS_BACKEND="jax",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    script = workdir / "guide.py"
    script.write_text(source)
    proc = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=900)
    tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    assert proc.returncode == 0, f"exit {proc.returncode}\n{tail}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("GUIDE_RESULT ")]
    assert len(lines) == 1, f"expected one GUIDE_RESULT line, got {len(lines)}:\n{tail}"
    return json.loads(lines[0][len("GUIDE_RESULT "):])


def _agree(lamina_value, keras_value, atol, key):
    if isinstance(lamina_value, (int, float)) and isinstance(keras_value, (int, float)) and atol:
        assert abs(lamina_value - keras_value) <= atol, (key, lamina_value, keras_value, atol)
    else:
        assert lamina_value == keras_value, (key, lamina_value, keras_value)


def test_every_guide_changes_only_the_import():
    assert GUIDES, "no guides found in examples/keras_guides"
    for path in GUIDES:
        lines = path.read_text().splitlines()
        assert lines.count(LAMINA_IMPORT) == 1, path.name
        others = [ln for ln in lines if "lamina" in ln and ln != LAMINA_IMPORT]
        assert not others, (path.name, others)


@pytest.mark.parametrize("path", GUIDES, ids=[p.stem for p in GUIDES])
def test_guide_runs_on_lamina_and_keras_and_agrees(path, tmp_path):
    source = path.read_text()
    tolerance = _tolerances(source)
    (tmp_path / "lamina").mkdir()
    (tmp_path / "keras").mkdir()
    ours = _run(source, tmp_path / "lamina")
    theirs = _run(source.replace(LAMINA_IMPORT, "import keras"), tmp_path / "keras")
    assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
    for key in ours:
        _agree(ours[key], theirs[key], tolerance.get(key), key)
