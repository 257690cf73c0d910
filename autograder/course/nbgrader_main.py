"""``python -m autograder.course.nbgrader_main ARGS``: ``nbgrader ARGS`` without an import it never uses.

nbgrader imports nbformat, which imports jsonschema, which builds the Lark grammar of the optional
``rfc3987_syntax`` package at import time when that package is installed (jupyter-events pulls it
in through ``jsonschema[format-nongpl]``): 1.2 s of CPU on every start, about half of what
importing nbgrader costs, only to offer the ``iri`` and ``iri-reference`` format checkers. No
notebook schema uses those formats and nbformat does not check formats, so the grader, which
starts nbgrader once per submission, blocks that import (jsonschema then simply omits those two
checkers) and runs nbgrader's own entry point. Everything else is ``python -m nbgrader``.
"""

from __future__ import annotations

import sys

#: Optional modules nbgrader's imports would load without ever using them.
BLOCKED = ("rfc3987_syntax",)


def block_unused_imports() -> None:
    """Make ``import`` of :data:`BLOCKED` fail with ImportError (unless already imported)."""
    for name in BLOCKED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main() -> None:
    """Run nbgrader's command line with ``sys.argv``."""
    block_unused_imports()
    from nbgrader.apps.nbgraderapp import main as nbgrader_main

    sys.argv[0] = "nbgrader"
    nbgrader_main()


if __name__ == "__main__":
    main()
