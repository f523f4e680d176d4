"""Figures show every text as written: group names are data, and a dollar sign in one is a
dollar sign, never a formula; log axes carry plain numbers."""

from __future__ import annotations

import ast
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from audit import audit
from audit.figures import literal_text, plot_views, rates_figure
from tests.audit.tables import frame_from_counts

ROOT = Path(__file__).resolve().parents[2]
NAMES = {"IND": "$\\frac{$", "MEX": "a$b$c", "NGA": "US$ 5"}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    frame = frame_from_counts({"IND": (2000, 100, 30, 70), "MEX": (300, 100, 6, 14),
                               "NGA": (900, 60, 20, 40)})
    frame["group"] = frame["group"].map(NAMES)
    return audit(frame, ["group"], "y", "d", n_boot=20, random_state=0).table


def test_group_names_with_dollars_are_drawn_as_written(table):
    figure = rates_figure(table, "group", ["fpr", "fnr"])
    figure.canvas.draw()  # a formula that does not parse would raise here
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert sorted(labels) == sorted(NAMES.values())
    for label in figure.axes[0].get_yticklabels():
        assert label.get_parse_math() is False


def test_a_log_axis_is_labelled_with_plain_numbers(table, tmp_path, monkeypatch):
    import audit.figures as figures

    drawn = []
    saved = figures.save_figure
    monkeypatch.setattr(figures, "save_figure",
                        lambda figure, path: drawn.append(figure) or saved(figure, path))
    path = plot_views({"true outcome": table, "recorded outcome": table}, "group", "fpr",
                      tmp_path / "views.png")
    assert path.exists() and path.stat().st_size > 0
    (axis,) = drawn[0].axes
    labels = [t.get_text() for t in [*axis.get_xticklabels(), *axis.get_xticklabels(minor=True)]
              if t.get_text()]
    # Matplotlib's own labels are formulas ($\\mathdefault{10^{0}}$), shown as written here.
    assert labels and not any("$" in text or "\\" in text for text in labels), labels
    assert all(float(text) > 0 for text in labels)
    assert "1" in labels


def test_the_text_setting_is_restored_after_drawing_and_after_a_failure():
    before = matplotlib.rcParams["text.parse_math"]

    @literal_text
    def fails() -> None:
        assert matplotlib.rcParams["text.parse_math"] is False
        raise RuntimeError("drawing failed")

    with pytest.raises(RuntimeError, match="drawing failed"):
        fails()
    assert matplotlib.rcParams["text.parse_math"] is before


def _functions_making_figures(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name != "new_figure" and any(
                isinstance(call, ast.Call) and getattr(call.func, "id", None) == "new_figure"
                for call in ast.walk(node)):
            found.append((node.name, [ast.unparse(d) for d in node.decorator_list]))
    return found


def test_every_function_that_makes_a_figure_shows_its_text_as_written():
    checked = {}
    for folder in ("audit", "experiments", "synthetic"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name, decorators in _functions_making_figures(path):
                checked[f"{path.relative_to(ROOT)}:{name}"] = "literal_text" in decorators
    assert len(checked) >= 15  # the audit's figures and every system's own
    assert all(checked.values()), [where for where, ok in checked.items() if not ok]
