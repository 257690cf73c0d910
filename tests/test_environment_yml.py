"""One pinned stack: constraints.txt (CI, make), environment.yml and binder/ (conda, Binder,
JupyterHub) and the pyproject extras (pip, Colab) resolve to the same versions."""

from __future__ import annotations

import os
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

CPU_TORCH_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
SELF = "hepml-course"


def _pin(req: Requirement) -> Version | None:
    """The version of an exact ``==`` pin, None for anything else."""
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return Version(specs[0].version)
    return None


def _constraints(repo_root) -> dict[str, Requirement]:
    reqs: dict[str, Requirement] = {}
    for number, raw in enumerate((repo_root / "constraints.txt").read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in reqs, f"constraints.txt line {number}: {name} is pinned twice"
        reqs[name] = req
    return reqs


def _pyproject(repo_root) -> dict[str, list[Requirement]]:
    """Requirements of pyproject.toml by group: 'core' and each extra (without self-references)."""
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    groups = {"core": [Requirement(r) for r in project["dependencies"]]}
    for extra, items in project["optional-dependencies"].items():
        groups[extra] = [
            r
            for r in map(Requirement, items)
            if canonicalize_name(r.name) != canonicalize_name(SELF)
        ]
    return groups


def _environment(path) -> tuple[list, list[str]]:
    """(conda dependencies, pip lines) of an environment file."""
    env = yaml.safe_load(path.read_text())
    conda = [d for d in env["dependencies"] if not isinstance(d, dict)]
    pip = [line for d in env["dependencies"] if isinstance(d, dict) for line in d["pip"]]
    return conda, pip


def test_constraints_are_exact_public_pins(repo_root):
    for req in _constraints(repo_root).values():
        version = _pin(req)
        assert version is not None, f"constraints.txt: {req} is not an exact == pin"
        assert version.local is None, (
            f"constraints.txt: {req} has a local version (+{version.local}) that the public "
            "index does not serve: pin the public version"
        )


def test_pyproject_requirements_resolve_to_the_constraints(repo_root):
    pins = _constraints(repo_root)
    for group, reqs in _pyproject(repo_root).items():
        for req in reqs:
            name = canonicalize_name(req.name)
            assert name in pins, f"pyproject [{group}] {req}: no pin in constraints.txt"
            pinned = pins[name]
            version = _pin(pinned)
            assert req.specifier.contains(version, prereleases=True), (
                f"pyproject [{group}] {req}: constraints.txt pins {version}, outside the range"
            )
            if _pin(req) is not None:
                assert _pin(req) == version, f"pyproject [{group}] {req} != constraints {pinned}"
            assert str(req.marker or "") == str(pinned.marker or ""), (
                f"pyproject [{group}] {req}: platform marker differs from constraints {pinned}"
            )


def test_environment_yml_pins_are_the_constraints(repo_root):
    conda, pip = _environment(repo_root / "environment.yml")
    assert conda == ["python=3.11", "pip"], "conda brings Python and pip only; the rest is pip"
    pins = _constraints(repo_root)
    have = {}
    for line in pip:
        assert not line.startswith(("-e", "-r", "-c", ".")), (
            f"environment.yml: {line!r} needs the repository, which repo2docker copies in only "
            "after building the environment (install the package in binder/postBuild)"
        )
        if line.startswith("--"):
            continue
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert _pin(req) is not None, f"environment.yml: {line} is not an exact pin"
        assert _pin(req) == _pin(pins[name]), f"environment.yml {line} != constraints {pins[name]}"
        assert str(req.marker or "") == str(pins[name].marker or ""), f"marker of {line}"
        have[name] = req
    groups = _pyproject(repo_root)
    want = {
        canonicalize_name(r.name)
        for group, reqs in groups.items()
        if group not in ("dev", "all")
        for r in reqs
    }
    assert sorted(want - set(have)) == [], "in pyproject.toml but not in environment.yml"
    assert sorted(set(have) - want) == [], "in environment.yml but not in pyproject.toml"


def test_environment_yml_takes_cpu_torch(repo_root):
    _, pip = _environment(repo_root / "environment.yml")
    assert CPU_TORCH_INDEX in pip
    assert CPU_TORCH_INDEX.split()[-1] in (repo_root / "README.md").read_text()


def test_binder_builds_the_same_environment_then_installs_the_package(repo_root):
    binder = repo_root / "binder"
    assert (binder / "environment.yml").read_bytes() == (
        repo_root / "environment.yml"
    ).read_bytes(), "binder/environment.yml must be a copy of environment.yml"
    post_build = binder / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    commands = [
        line.strip()
        for line in post_build.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "python -m pip install --no-deps ." in commands


def test_ci_installs_with_the_constraints(repo_root):
    makefile = (repo_root / "Makefile").read_text()
    assert '-c constraints.txt -e ".[all,dev]"' in makefile


def test_colab_extra_brings_what_colab_lacks(repo_root):
    colab = {canonicalize_name(r.name) for r in _pyproject(repo_root)["colab"]}
    assert "torchinfo" in colab
    # Colab's own GPU builds must stay: the extra never pins a framework
    assert not colab & {"torch", "tensorflow", "tensorflow-cpu", "keras"}


@pytest.mark.parametrize(
    ("line", "ok"),
    [("torch==2.13.0", True), ("torch==2.13.0+cpu", False), ("torch>=2", False)],
)
def test_pin_examples(line, ok):
    version = _pin(Requirement(line))
    assert (version is not None and version.local is None) is ok
