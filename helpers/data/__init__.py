"""Datasets of the course: registry, fetchers with a digest-checked cache, loaders, synthetic twins."""
