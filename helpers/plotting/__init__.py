"""Plots for the course notebooks: distributions, classifier performance, training, jet images.

Calculation lives in :mod:`helpers.metrics`; these functions only draw. Each takes the data,
keyword options and ``ax=None`` (the current Axes when not given), draws on it and returns it;
multi-panel functions return ``(fig, axes)``. None calls ``plt.show()`` or changes the global
style, except :func:`use_hep_style`, which applies mplhep's look only when called.
"""

from helpers.plotting.distributions import compare_distributions, compare_train_test, plot_scores
from helpers.plotting.history import plot_history
from helpers.plotting.images import plot_jet_images
from helpers.plotting.performance import (
    plot_confusion_matrix,
    plot_importance,
    plot_roc,
    plot_significance_scan,
)
from helpers.plotting.style import use_hep_style

__all__ = [
    "compare_distributions",
    "compare_train_test",
    "plot_confusion_matrix",
    "plot_history",
    "plot_importance",
    "plot_jet_images",
    "plot_roc",
    "plot_scores",
    "plot_significance_scan",
    "use_hep_style",
]
