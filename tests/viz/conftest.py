"""Fixtures of the viz tests."""

import pytest
from matplotlib.figure import Figure


@pytest.fixture
def saved_figures(monkeypatch):
    """Every matplotlib figure saved during the test, kept for inspection: the plotting functions close their
    figures after saving, so what was drawn (titles, legends, patches) is checked on these."""
    figures = []
    real = Figure.savefig

    def keep(figure, *args, **kwargs):
        figures.append(figure)
        return real(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return figures
