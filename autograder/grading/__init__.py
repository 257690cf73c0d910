"""Grading a class: collect, grade (workers, sandbox, limits), the clean re-check, the gradebook.

A submission travels :mod:`~autograder.grading.collect` (found and imported),
:mod:`~autograder.grading.grade` (the command), :mod:`~autograder.grading.dispatch` (threads or
Dask), :mod:`~autograder.grading.worker` (one submission: nbgrader autograde in a scratch course,
the kernel in :mod:`~autograder.grading.sandbox` under :mod:`~autograder.grading.limits`, the clean
re-check :mod:`~autograder.grading.replay`), then back to :mod:`~autograder.grading.gradebook`
(the only writer of the class's gradebook) and :mod:`~autograder.grading.state` (resume).
"""
