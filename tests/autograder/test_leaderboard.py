"""Tests of ``autograder.leaderboard.board`` and ``hepml leaderboard`` on a class of challenge files."""

from __future__ import annotations

import base64
import csv
import math
import re
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autograder import cli
from autograder.leaderboard import board as lb
from autograder.leaderboard import challenge

N_JETS = 2000
ASSIGNMENT = "04_top_tagging"


def _labels(n: int = N_JETS) -> np.ndarray:
    return (np.random.default_rng(7).random(n) < 0.5).astype(np.int8)


def _class_files(folder: Path, y: np.ndarray) -> None:
    """A class of prediction files: good, tied, known-answer and broken ones."""
    rng = np.random.default_rng(11)
    folder.mkdir(parents=True)
    good = y + rng.normal(0.0, 0.7, len(y))
    np.save(folder / "alpha__perfect.npy", y + 0.5 * rng.random(len(y)))
    np.save(folder / "alpha__labels.npy", y.astype(np.float64))  # the labels: reported
    np.save(folder / "beta__random.npy", rng.random(len(y)))
    np.save(folder / "gamma__inverted.npy", 1.0 - y.astype(np.float32))
    np.save(folder / "delta__dense.npy", good)
    np.save(folder / "epsilon__dense.npy", good)  # the tied pair
    np.save(folder / "eta_cnn_v2.npy", good + rng.normal(0.0, 0.3, len(y)))  # one underscore
    column = good + rng.normal(0.0, 0.2, len(y))
    np.save(folder / "theta__column.npy", column[:, None].astype(np.float32))  # keras predict
    for model in ("d4", "a1", "c3", "b2"):  # four valid models: d4 is one too many
        np.save(folder / f"zeta__{model}.npy", good + rng.normal(0.0, 1.0, len(y)))
    np.save(folder / "zeta__a0.npy", good[:10])  # broken: reported, takes no valid model's place
    np.save(folder / "short__model.npy", good[:-1])
    with_nan = good.copy()
    with_nan[5] = np.nan
    np.save(folder / "nan__model.npy", with_nan)
    with_inf = good.copy()
    with_inf[9] = -np.inf
    np.save(folder / "inf__model.npy", with_inf)
    np.save(folder / "strings__model.npy", good.astype(str))
    np.save(folder / "objects__model.npy", good.astype(object), allow_pickle=True)
    np.save(folder / "twocolumns__model.npy", np.stack([good, -good], axis=1))
    data = (folder / "delta__dense.npy").read_bytes()
    (folder / "truncated__model.npy").write_bytes(data[: len(data) // 2])
    (folder / "garbage__model.npy").write_bytes(b"these are not numbers")
    (folder / "empty__model.npy").write_bytes(b"")
    (folder / "predictions.npy").write_bytes(data)  # no group in the name
    (folder / "kappa__notes.txt").write_text("my best model", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\0")  # hidden files are ignored


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    base = tmp_path_factory.mktemp("leaderboard")
    y = _labels()
    np.save(base / "labels.npy", y)
    _class_files(base / "predictions", y)
    result = lb.leaderboard(
        ASSIGNMENT,
        predictions_dir=base / "predictions",
        labels=base / "labels.npy",
        out_dir=base / "out",
    )
    return result, y


def _entry(result: lb.LeaderboardResult, group: str, model: str) -> lb.Entry:
    (entry,) = [e for e in result.entries if (e.group, e.model) == (group, model)]
    return entry


def test_known_figures(ranked):
    result, y = ranked
    perfect = _entry(result, "alpha", "perfect")
    assert perfect.auc == 1.0 and perfect.rejection == math.inf and perfect.rank == 1
    inverted = _entry(result, "gamma", "inverted")
    # Every background jet scores above every top jet: no cut reaches eps_S = 0.3 without
    # keeping all background, so eps_B = 1.
    assert inverted.auc == 0.0 and inverted.rejection == 1.0
    assert result.entries[-1] == inverted and inverted.rank == len(result.entries)
    # Random scores: the AUC is the Mann-Whitney U/(nS nB), whose null standard deviation is
    # sqrt((nS + nB + 1) / (12 nS nB)) (about 0.013 here); allow 5 sigma. 1/eps_B near 1/0.3.
    n_s, n_b = int(y.sum()), int(len(y) - y.sum())
    sigma = math.sqrt((n_s + n_b + 1) / (12 * n_s * n_b))
    random = _entry(result, "beta", "random")
    assert abs(random.auc - 0.5) < 5 * sigma
    assert 2.0 < random.rejection < 5.0


def test_ranking_and_ties(ranked):
    result, _ = ranked
    assert [e.rank for e in result.entries] == sorted(e.rank for e in result.entries)
    assert [e.auc for e in result.entries] == sorted((e.auc for e in result.entries), reverse=True)
    delta, epsilon = _entry(result, "delta", "dense"), _entry(result, "epsilon", "dense")
    assert delta.auc == epsilon.auc and delta.rank == epsilon.rank
    assert delta.rejection_rank == epsilon.rejection_rank
    order = [(e.group, e.model) for e in result.entries]
    assert order.index(("delta", "dense")) + 1 == order.index(("epsilon", "dense"))
    # the tie shares a rank and the entry after it skips one ("1, 2, 2, 4")
    after = result.entries[order.index(("epsilon", "dense")) + 1]
    assert after.rank == delta.rank + 2
    # the independent rejection ranks are a ranking of the rejection column
    by_rejection = sorted(result.entries, key=lambda e: e.rejection_rank)
    rejections = [e.rejection for e in by_rejection]
    assert rejections == sorted(rejections, reverse=True)


def test_plausible_names_and_shapes_are_ranked_with_a_note(ranked):
    result, y = ranked
    assert "read as group 'eta', model 'cnn_v2'" in _entry(result, "eta", "cnn_v2").note
    column = _entry(result, "theta", "column")
    assert column.note == f"shape ({N_JETS}, 1) read as ({N_JETS},)"
    folder = result.outputs["csv"].parent.parent / "predictions"
    flat = np.load(folder / "theta__column.npy").ravel()
    assert (column.auc, column.rejection) == lb.score(y, flat)


def test_fourth_model_of_a_group_is_reported(ranked):
    result, _ = ranked
    assert sorted(e.model for e in result.entries if e.group == "zeta") == ["a1", "b2", "c3"]
    (extra,) = [r for r in result.rejected if r.file == "zeta__d4.npy"]
    assert "4 valid models" in extra.reason and "(a1, b2, c3)" in extra.reason
    (broken,) = [r for r in result.rejected if r.file == "zeta__a0.npy"]
    assert broken.reason.startswith("10 predictions, expected")


@pytest.mark.parametrize(
    ("file", "reason"),
    [
        ("short__model.npy", f"{N_JETS - 1} predictions, expected {N_JETS}"),
        ("nan__model.npy", "1 NaN and 0 infinite"),
        ("inf__model.npy", "0 NaN and 1 infinite"),
        ("strings__model.npy", "is not a real number type"),
        ("objects__model.npy", "Python objects"),
        ("twocolumns__model.npy", f"shape ({N_JETS}, 2) is not 1-D"),
        ("truncated__model.npy", "corrupt .npy file"),
        ("garbage__model.npy", "not a NumPy file"),
        ("empty__model.npy", "empty"),
        ("predictions.npy", "no group and model"),
        ("kappa__notes.txt", "not a .npy file"),
        ("alpha__labels.npy", "are the challenge labels"),
    ],
)
def test_invalid_files_are_reported_not_ranked(ranked, file, reason):
    result, _ = ranked
    (rejected,) = [r for r in result.rejected if r.file == file]
    assert reason in rejected.reason
    assert file not in {e.file for e in result.entries}


def test_every_file_is_ranked_or_reported(ranked):
    result, _ = ranked
    folder = result.outputs["csv"].parent.parent / "predictions"
    shown = {e.file for e in result.entries} | {r.file for r in result.rejected}
    assert shown == {p.name for p in folder.iterdir() if not p.name.startswith(".")}
    assert len(result.entries) == 10


def test_outputs(ranked):
    result, _ = ranked
    with result.outputs["csv"].open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["group"], r["model"], int(r["rank"])) for r in rows] == [
        (e.group, e.model, e.rank) for e in result.entries
    ]
    assert [float(r["auc"]) for r in rows] == [e.auc for e in result.entries]
    assert float(rows[0]["rejection_at_0.3"]) == math.inf
    png = result.outputs["png"].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    page = result.outputs["html"].read_text(encoding="utf-8")
    (data,) = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert base64.b64decode(data) == png
    for e in result.entries:
        assert f"<td>{e.rank}</td><td>{e.group}</td><td>{e.model}</td><td>{e.auc:.5f}</td>" in page
    for r in result.rejected:
        assert f"<td>{r.file}</td>" in page
    summary = result.summary()
    assert "alpha" in summary and "nan__model.npy: 1 NaN" in summary


def test_rank_entries_rule():
    entries = [
        lb.Entry("c", "m", "c.npy", auc=0.8, rejection=30.0),
        lb.Entry("a", "m", "a.npy", auc=0.9, rejection=10.0),
        lb.Entry("d", "m", "d.npy", auc=0.9, rejection=20.0),
        lb.Entry("b", "m", "b.npy", auc=0.9 + 1e-15, rejection=20.0),  # round-off: a tie
        lb.Entry("e", "m", "e.npy", auc=0.9 + 1e-9, rejection=1.0),  # a real difference
    ]
    ranked = lb.rank_entries(entries)
    assert [(e.group, e.rank, e.rejection_rank) for e in ranked] == [
        ("e", 1, 5),
        ("b", 2, 2),  # equal AUC: larger rejection first, then by name
        ("d", 2, 2),
        ("a", 2, 4),
        ("c", 5, 1),
    ]


@pytest.mark.parametrize(
    ("name", "submitter", "expected"),
    [
        ("tauons__cnn.npy", None, ("tauons", "cnn", False)),
        ("Team Rocket__dense_v2.NPY", None, ("Team Rocket", "dense_v2", False)),
        ("tauons_cnn_v2.npy", None, ("tauons", "cnn_v2", True)),
        ("tauons-cnn.npy", None, ("tauons", "cnn", True)),
        ("cnn.npy", "alice", ("alice", "cnn", True)),
    ],
)
def test_parse_name(name, submitter, expected):
    group, model, note = lb.parse_name(name, submitter=submitter)
    assert (group, model, bool(note)) == expected


@pytest.mark.parametrize("name", ["cnn.npy", "__cnn.npy", "tauons__.npy", "tauons__cnn.npz"])
def test_parse_name_rejects(name):
    with pytest.raises(ValueError, match=r"<group>__<model>\.npy"):
        lb.parse_name(name)


def test_duplicates_keep_the_first_file(tmp_path):
    for name in ("Tauons__CNN.npy", "tauons__cnn.npy"):
        np.save(tmp_path / name, np.zeros(3))
    files = [(p, p.name, None) for p in tmp_path.iterdir()]
    kept, rejected = lb.select_submissions(files)
    assert [s.file for s in kept] == ["Tauons__CNN.npy"]
    assert (
        rejected[0].file == "tauons__cnn.npy"
        and "duplicate of Tauons__CNN.npy" in rejected[0].reason
    )


def test_read_labels_formats(tmp_path):
    y = _labels(50)
    np.savez(tmp_path / "l.npz", is_signal_new=y, other=y[:3])
    pd.DataFrame({"index": range(50), "is_signal_new": y}).to_csv(tmp_path / "h.csv", index=False)
    np.savetxt(tmp_path / "bare.csv", y, fmt="%d")
    pd.DataFrame({"is_signal_new": y}).to_hdf(tmp_path / "truth.h5", key="table", format="table")
    for name in ("l.npz", "h.csv", "bare.csv", "truth.h5"):
        np.testing.assert_array_equal(lb.read_labels(tmp_path / name), y)
    np.testing.assert_array_equal(lb.read_labels(y.tolist()), y)


@pytest.mark.parametrize(
    ("labels", "match"),
    [([0, 1, 2], "only 0"), ([1, 1, 1], "one class"), ([[0, 1]], "1-D"), (["a", "b"], "only 0")],
)
def test_read_labels_rejects(labels, match):
    with pytest.raises(ValueError, match=match):
        lb.read_labels(labels)


def test_twin_labels_come_from_the_twin_module(monkeypatch):
    calls = []

    def challenge_labels(events, seed):
        calls.append((events, seed))
        return np.array([0, 1, 1, 0])

    fake = types.ModuleType("helpers.data.synthetic.top_tagging")
    fake.DEFAULT_EVENTS = 4
    fake.challenge_labels = challenge_labels
    monkeypatch.setitem(sys.modules, "helpers.data.synthetic.top_tagging", fake)
    np.testing.assert_array_equal(lb.read_labels("twin:5"), [0, 1, 1, 0])
    assert calls == [(4, 5)]


def test_nbgrader_layout_and_cli(tmp_path, capsys):
    y = _labels()
    np.save(tmp_path / "labels.npy", y)
    for student, name, scores in [
        ("alice", "cnn.npy", y + 0.5 * np.random.default_rng(1).random(N_JETS)),
        ("bob", "tauons__dense.npy", np.random.default_rng(2).random(N_JETS)),
        ("carol", "tauons__dense.npy", y.astype(float)),  # same group and model as bob
    ]:
        folder = tmp_path / "submitted" / student / ASSIGNMENT / lb.PREDICTIONS_FOLDER
        folder.mkdir(parents=True)
        np.save(folder / name, scores)
    (tmp_path / "submitted" / "dave" / ASSIGNMENT).mkdir(parents=True)  # submitted no predictions
    rc = cli.main(
        [
            "--root",
            str(tmp_path),
            "leaderboard",
            ASSIGNMENT,
            "--labels",
            str(tmp_path / "labels.npy"),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"^1 +alice +cnn +1\.00000 +inf", out, flags=re.MULTILINE)
    assert "carol/submission_predictions/tauons__dense.npy: duplicate of bob/" in out
    written = tmp_path / "leaderboard" / ASSIGNMENT
    assert {p.name for p in written.iterdir()} == {
        "leaderboard.csv",
        "leaderboard.html",
        "leaderboard.png",
    }


def test_cli_errors(tmp_path, capsys):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "manifest.toml").write_text(
        '[[assignments]]\nid = "04_top_tagging"\ntitle = "t"\nframework = "keras"\n'
        'dataset = "top-tagging"\npoints = 1\ntime_budget_s = 180\n',
        encoding="utf-8",
    )
    np.save(tmp_path / "labels.npy", _labels(10))
    args = ["--root", str(tmp_path), "leaderboard"]
    assert cli.main([*args, ASSIGNMENT]) == 2
    assert "needs the hidden labels" in capsys.readouterr().err
    assert cli.main([*args, "04_top_taging", "--labels", str(tmp_path / "labels.npy")]) == 2
    assert "no assignment '04_top_taging'" in capsys.readouterr().err
    assert cli.main([*args, ASSIGNMENT, "--labels", str(tmp_path / "labels.npy")]) == 2
    assert "no prediction files under" in capsys.readouterr().err
    assert cli.main([*args, ASSIGNMENT, "--labels", str(tmp_path / "missing.npy")]) == 2
    assert "no labels file" in capsys.readouterr().err


def test_html_escapes_names():
    entry = lb.Entry("<b>&co", "m", "<b>&co__m.npy", auc=0.7, rejection=5.0, rank=1)
    result = lb.LeaderboardResult(ASSIGNMENT, 10, [entry], [lb.Rejected("x<y>.npy", "a <reason>")])
    page = lb.render_html(result)
    assert "<td>&lt;b&gt;&amp;co</td>" in page and "<td>a &lt;reason&gt;</td>" in page
    assert "<b>&co" not in page and "<img" not in page


def test_nothing_valid_still_writes_the_reports(tmp_path):
    np.save(tmp_path / "labels.npy", _labels(20))
    (tmp_path / "p").mkdir()
    np.save(tmp_path / "p" / "solo__model.npy", np.zeros(19))
    result = lb.leaderboard(
        ASSIGNMENT, predictions_dir=tmp_path / "p", labels=tmp_path / "labels.npy", out_dir=tmp_path
    )
    assert result.entries == [] and [r.file for r in result.rejected] == ["solo__model.npy"]
    assert "(no entry could be ranked)" in result.summary()
    assert all(path.stat().st_size > 0 for path in result.outputs.values())


def test_class_challenge_cannot_be_won_from_the_library(tmp_path, monkeypatch, capsys):
    """The class's challenge jets come from the grader's secret: the public twin's labels score
    chance on them, and the generator's true likelihood ratio is reported, not ranked."""
    from helpers.data.synthetic import top_tagging

    monkeypatch.setenv("HEPML_GRADER_SECRET", "test secret of the class")
    assert cli.main(["--root", str(tmp_path), "challenge", str(tmp_path / "files")]) == 0
    jets = pd.read_hdf(tmp_path / "files" / "test_without_truth_100k.h5", "table")
    assert "is_signal_new" not in jets.columns
    y = lb.twin_challenge_labels(seed=challenge.class_seed(tmp_path, top_tagging.DEFAULT_EVENTS))
    assert len(jets) == len(y)
    truth = top_tagging.likelihood_ratio(jets, log=True)
    rng = np.random.default_rng(3)
    folder = tmp_path / "predictions"
    folder.mkdir()
    np.save(folder / "oracle__truth.npy", truth)
    np.save(
        folder / "public__labels.npy", top_tagging.challenge_labels(top_tagging.DEFAULT_EVENTS, 0)
    )
    np.save(folder / "honest__net.npy", truth + rng.normal(0.0, 2.0, len(truth)))
    result = lb.leaderboard(
        ASSIGNMENT,
        root=tmp_path,
        predictions_dir=folder,
        labels="twin:class",
        out_dir=tmp_path / "out",
    )
    ranked = {(e.group, e.model): e for e in result.entries}
    assert set(ranked) == {("honest", "net"), ("public", "labels")}
    assert ranked[("honest", "net")].auc > 0.8
    assert abs(ranked[("public", "labels")].auc - 0.5) < 0.05
    (oracle,) = [r for r in result.rejected if r.file == "oracle__truth.npy"]
    assert "true likelihood ratio" in oracle.reason
