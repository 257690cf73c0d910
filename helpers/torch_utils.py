"""Training utilities for PyTorch, with the same public names as :mod:`helpers.keras_utils`.

``seed_everything``, ``pick_device``, ``EarlyStopping``, ``fit``, ``evaluate``,
``predict_scores`` and ``summary`` do what their Keras namesakes do, so a notebook can switch
framework without learning new words. :func:`fit` returns a :class:`History` whose ``.history``
dict has Keras's keys (``loss``, ``val_loss``, ``auc``, ``val_auc``, ...), so plotting code reads
both. Students write the model (and may write their own loop, using :class:`EarlyStopping` in it);
these helpers do the bookkeeping.

:func:`seed_everything` and :func:`pick_device` are defined here; :class:`EarlyStopping` and
:class:`History` live in :mod:`helpers.torch_callbacks`, and :func:`fit`, :func:`evaluate`,
:func:`predict_scores` and :func:`summary` in :mod:`helpers.torch_training`. Import them all from
here.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from helpers.torch_callbacks import EarlyStopping, History
from helpers.torch_training import evaluate, fit, predict_scores, summary

__all__ = [
    "EarlyStopping",
    "History",
    "evaluate",
    "fit",
    "pick_device",
    "predict_scores",
    "seed_everything",
    "summary",
]


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and all GPUs).

    Parameters
    ----------
    seed : int
    deterministic : bool
        Also ask torch for deterministic algorithms: cuDNN deterministic and not benchmarking,
        ``torch.use_deterministic_algorithms(True, warn_only=True)`` (a warning, not an error,
        for an operation without a deterministic version) and ``CUBLAS_WORKSPACE_CONFIG`` (read
        when CUDA starts, so seed before the first CUDA call). Runs on the same machine and
        versions then repeat exactly; GPU runs can be slower.

    Notes
    -----
    ``PYTHONHASHSEED`` is set for subprocesses (e.g. DataLoader workers) only; the running
    interpreter's string hashing is fixed at start-up.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (students' code uses the legacy global generator)
    torch.manual_seed(seed)  # all devices
    os.environ["PYTHONHASHSEED"] = str(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(*, verbose: bool = True) -> torch.device:
    """The best available device: CUDA GPU, then Apple MPS, then CPU.

    Parameters
    ----------
    verbose : bool
        Print one line saying which device and why.

    Returns
    -------
    torch.device
    """
    if torch.cuda.is_available():
        device = torch.device("cuda")
        why = f"{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
        why = "Apple GPU through Metal (MPS)"
    else:
        device = torch.device("cpu")
        why = f"no CUDA or MPS device found; {torch.get_num_threads()} CPU threads"
    if verbose:
        print(f"Using {device.type}: {why}")
    return device
