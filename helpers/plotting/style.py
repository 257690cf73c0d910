"""An optional HEP look, through mplhep, applied only on request."""

from __future__ import annotations


def use_hep_style(experiment: str = "ROOT") -> None:
    """Apply an mplhep experiment style to every later plot of this session.

    This changes matplotlib's global ``rcParams``, which is why nothing in :mod:`helpers` does it
    on import. Undo it with ``matplotlib.rcdefaults()``, or apply it to one block of code with
    ``with matplotlib.style.context(mplhep.style.ATLAS): ...`` instead.

    Parameters
    ----------
    experiment : str
        An mplhep style name: ``"ROOT"`` (default, experiment-neutral), ``"ATLAS"``, ``"CMS"``,
        ``"LHCb"``, ``"ALICE"``.

    Raises
    ------
    ImportError
        If mplhep is not installed (``pip install mplhep``, or the ``plot`` extra).
    """
    try:
        import mplhep
    except ImportError as error:  # pragma: no cover - mplhep is in the plot extra
        raise ImportError("use_hep_style needs mplhep: pip install mplhep") from error
    mplhep.style.use(experiment)
