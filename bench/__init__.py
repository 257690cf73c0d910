"""Benchmarks of the course (not tests): run them all with ``python -m bench``."""
