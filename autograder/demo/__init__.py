"""``hepml demo``: a whole course cycle offline (plan, build, grade, verdicts, report).

The command is :func:`autograder.demo.run.demo`.
"""
