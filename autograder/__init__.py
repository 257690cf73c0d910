"""The grading side of the hepml course: checks for test cells, release, grading, leaderboard."""

__version__ = "0.1.0"
