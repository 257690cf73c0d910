"""The course as data: the manifest, the notebooks' cells, and running nbgrader for the course."""
