"""Helpers for the hepml course notebooks.

Import the namespaced modules you need::

    from helpers import data, metrics, plotting, physics

This package imports no deep-learning framework: the PyTorch utilities live in
``helpers.torch_utils`` and the Keras ones in ``helpers.keras_utils``, with the same public names.
"""

__all__ = ["data", "metrics", "physics", "plotting"]


def __getattr__(name: str):
    # Lazy submodule access (``helpers.metrics``) without importing everything up front.
    if name in __all__:
        import importlib

        return importlib.import_module(f"helpers.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
