"""Hidden events for hidden tests: seeded by the grader's secret, never by a seed in a notebook."""

from __future__ import annotations

import pandas as pd

from helpers.data import synthetic


def test_unseen_depends_on_the_secret_and_the_salt(monkeypatch):
    monkeypatch.setenv(synthetic.SECRET_ENV, "class-2026-a")
    a = synthetic.unseen("higgs-ww-vs-ttbar", events=200)
    again = synthetic.unseen("higgs-ww-vs-ttbar", events=200)
    salted = synthetic.unseen("higgs-ww-vs-ttbar", events=200, salt="es")
    monkeypatch.setenv(synthetic.SECRET_ENV, "class-2026-b")
    other = synthetic.unseen("higgs-ww-vs-ttbar", events=200)
    monkeypatch.delenv(synthetic.SECRET_ENV)
    development = synthetic.unseen("higgs-ww-vs-ttbar", events=200)
    key = "WW_vs_TT_dataset.h5"
    pd.testing.assert_frame_equal(a[key], again[key])
    for different in (salted, other, development):
        assert not a[key].equals(different[key])
    assert list(a[key].columns) == list(
        synthetic.generate("higgs-ww-vs-ttbar", events=50)[key].columns
    )


def test_unseen_is_not_the_default_twin(monkeypatch):
    monkeypatch.setenv(synthetic.SECRET_ENV, "s")
    n = 300
    for seed in range(3):
        assert synthetic.unseen_seed("atlas-hww", events=n) != seed
