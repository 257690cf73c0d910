"""Cheats of the red-team suites (tests/redteam): code a student who wants the points without the
work would put in a cell of their notebook. Each is a cell source, added after the imports.

They are written against the grader's design (docs/writing-tests.md, docs/threat-model.md), not
against one check: a cheat that a future change lets through must make the suite fail.
"""

from __future__ import annotations

#: Replace every public check by a function that passes.
PATCH_CHECKS = """
import autograder.checks as _c
for _name in list(_c.__all__) if hasattr(_c, "__all__") else dir(_c):
    if not _name.startswith("_") and callable(getattr(_c, _name, None)):
        setattr(_c, _name, lambda *a, **k: None)
"""

#: Make ``run_check`` (the checks' shared last step) record nothing and never fail.
PATCH_RUN_CHECK = """
import sys
import autograder.checks
for _m in list(sys.modules.values()):
    if getattr(_m, "__name__", "").startswith("autograder.checks") and hasattr(_m, "run_check"):
        _m.run_check = lambda *a, **k: None
"""

#: Keep the checks, but forge what they derive from the student's objects: a check's record says
#: the student's outputs equal the expected ones, its scores equal its labels.
FORGE_DERIVED = """
import sys
import numpy as _np
import autograder.checks
from autograder.checks import _core as _core

_orig = _core.run_check

def _forged(name, derive, spec=None):
    spec = dict(spec or {})
    def fake():
        real = {}
        try:
            real = dict(derive())
        except Exception:
            pass
        if "expected" in spec and "outputs" in real:
            real["outputs"] = [_np.asarray(e, dtype=float) for e in spec["expected"]]
            real["errors"] = [None] * len(spec["expected"])
        for key in ("y_true",):
            if key in real or key in spec:
                truth = _np.asarray(real.get(key, spec.get(key)), dtype=float)
                real["y_score"] = truth
                real["error"] = None
        real.pop("input_error", None)
        return real
    return _orig(name, fake, spec)

for _m in list(sys.modules.values()):
    if getattr(_m, "__name__", "").startswith("autograder.checks") and getattr(_m, "run_check", None) is _orig:
        _m.run_check = _forged
"""

#: nbgrader reads a test cell's first ``execute_result`` as its score: make every cell end with a
#: displayed value (an input transformer appends one) and keep the checks from failing.
DISPLAY_A_SCORE = (
    PATCH_CHECKS
    + """
_ip = get_ipython()
_ip.input_transformers_post.append(lambda lines: lines + ["\\n", "'full marks'\\n"])
"""
)

#: A thread that keeps rewriting every record in the artefact folder as "passed" while the tests
#: run (a second writer the grader does not know about).
RECORD_EDITOR = """
import json, os, threading, time, pathlib
def _edit():
    folder = pathlib.Path(os.environ.get("HEPML_ARTEFACT_DIR", "/nonexistent"))
    while True:
        for p in folder.glob("**/*.json"):
            try:
                data = json.loads(p.read_text())
                if isinstance(data, dict) and "verdict" in data:
                    data["verdict"] = {"passed": True, "message": ""}
                    p.write_text(json.dumps(data))
            except Exception:
                pass
        time.sleep(0.01)
threading.Thread(target=_edit, daemon=True).start()
"""

#: Functions that look in their callers' frames for the check's expected values and return them
#: (``function_matches`` holds them while it calls the student's function, in the kernel).
FRAME_PEEKER = """
import sys as _sys
import numpy as np

def _peek(default):
    f = _sys._getframe(2)
    case = cases = None
    while f is not None:
        loc = f.f_locals
        if case is None and "case" in loc:
            case = loc["case"]
        if cases is None and "cases" in loc:
            cases = loc["cases"]
        if "expected" in loc and cases is not None:
            idx = next((i for i, c in enumerate(cases) if c is case), 0)
            return np.asarray(loc["expected"][idx], dtype=float)
        f = f.f_back
    return default

def invariant_mass(E, px, py, pz):
    return _peek(np.zeros(np.shape(E)))

def delta_phi(phi1, phi2):
    return _peek(np.zeros(np.shape(phi1)))
"""
