"""environment.yml (conda users) and pyproject.toml (pip users) must ask for the same stack."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"pytables": "tables"}
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def _parse(req: str) -> tuple[str, str]:
    match = _REQ.match(req)
    assert match, f"cannot parse requirement {req!r}"
    name, _extras, spec = match.groups()
    name = CONDA_TO_PYPI.get(name.lower(), name.lower()).replace("_", "-")
    spec = spec.replace(" ", "")
    # conda writes exact pins as '=' (single) for python only; pip pins are '=='
    return name, spec


def _pyproject(repo_root) -> dict[str, str]:
    data = tomllib.loads((repo_root / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra, items in data["project"]["optional-dependencies"].items():
        if extra in ("all", "dev"):
            continue
        reqs += items
    return dict(_parse(r) for r in reqs)


def _environment(repo_root) -> dict[str, str]:
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    reqs = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            reqs += [d for d in dep["pip"] if not d.startswith("-")]
        elif not dep.startswith(("python", "pip")) or dep.startswith("python-"):
            reqs.append(dep)
    return dict(_parse(r) for r in reqs)


def test_environment_yml_matches_pyproject(repo_root):
    want, have = _pyproject(repo_root), _environment(repo_root)
    assert sorted(set(want) - set(have)) == [], "in pyproject.toml but not in environment.yml"
    assert sorted(set(have) - set(want)) == [], "in environment.yml but not in pyproject.toml"
    different = {n: (want[n], have[n]) for n in want if want[n] != have[n]}
    assert different == {}, "version specs differ (pyproject, environment.yml)"


def test_environment_yml_installs_the_course(repo_root):
    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip
    assert "python=3.11" in env["dependencies"]


@pytest.mark.parametrize("line", ["torch==2.13.0", "pytables>=3.9", "dask[distributed]==2026.8.0"])
def test_parse_examples(line):
    name, spec = _parse(line)
    assert name in ("torch", "tables", "dask") and spec
