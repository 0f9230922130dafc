"""benchmarks/conv_sweep.py: its grid honours the size bound, and a tiny case of every
operation runs both programs to the same values (no timing is checked)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import conv_sweep as S  # noqa: E402


def test_full_grid_stays_under_the_bound_and_covers_every_operation():
    cases = S.full_grid(0.05)
    assert cases and all(S.flops(c) <= 0.05e9 for c in cases)
    assert {c[1] for c in cases} == set(S.RANK)
    assert {c[7] for c in cases} == {1, 2} and {c[9] for c in cases} == {"same", "valid"}


def test_a_sample_is_a_seeded_subset_in_grid_order():
    cases = S.full_grid(0.05)
    picked = S.sample(cases, 40, seed=1)
    assert len(picked) == len(set(picked)) == 40
    assert [cases.index(c) for c in picked] == sorted(cases.index(c) for c in picked)
    assert S.sample(cases, 40, seed=1) == picked != S.sample(cases, 40, seed=2)
    assert S.sample(cases[:5], 40, seed=1) == cases[:5]


@pytest.mark.parametrize("op", sorted(S.RANK))
def test_a_tiny_case_gives_lamina_and_xla_the_same_values(op, monkeypatch, tmp_path):
    monkeypatch.setenv("LAMINA_AUTOTUNE_CACHE", str(tmp_path / "tune.json"))
    case = ("tiny", op, 2, 6, 3, 4, 3, 2 if op == "conv2d_transpose" else 1, 1, "same")
    rows = S.run_jax_case(case, reps=1)
    assert [r["pass"] for r in rows] == ["fwd", "fwd+bwd"]
    assert all(r["same_values"] and r["lamina_s"] > 0 and r["xla_s"] > 0 for r in rows)
