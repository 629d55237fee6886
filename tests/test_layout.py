"""``attnviz.Row`` / ``attnviz.Column``: ipywidgets boxes of views whose display data keeps, beside the live box,
the children's pictures laid out the same way (a saved notebook shows them; a plain HBox shows its text repr).
The browser side: ``tests/browser/test_views.py::test_display_forms`` (live) and ``test_saved_notebook.py``."""

from __future__ import annotations

import base64
import re

import ipywidgets
import pytest

import attnviz
from attnviz.testing import tiny_model
from attnviz.widgets.base import WIDGET_VIEW_MIME

TEXT = "the movie was wonderful"


@pytest.fixture(scope="module")
def e():
    return attnviz.Explainer(*tiny_model("bert", heads=4)).explain(TEXT)


def bundle(widget) -> dict:
    shown = widget._repr_mimebundle_()
    return shown[0] if isinstance(shown, tuple) else shown


def test_a_column_is_a_vbox_whose_picture_is_its_childrens_in_order(e):
    text = attnviz.TextView(e, method="rollout")
    column = attnviz.Column("Pretrained <b>rollout</b>", text, "Fine-tuned")
    assert isinstance(column, ipywidgets.VBox) and len(column.children) == 3 and column.children[1] is text
    assert [isinstance(c, ipywidgets.Label) for c in column.children] == [True, False, True]
    data = bundle(column)
    assert data[WIDGET_VIEW_MIME]["model_id"] == column.model_id  # the live box
    page = data["text/html"]
    assert "flex-direction:column" in page
    assert "Pretrained &lt;b&gt;rollout&lt;/b&gt;" in page and "<b>rollout" not in page  # a label is text
    snapshot = bundle(text)["text/html"]
    assert page.index("Pretrained") < page.index(snapshot) < page.index("Fine-tuned")
    assert data["text/plain"].startswith("Column: an interactive attnviz view")


def test_a_row_holds_a_pictured_views_png_and_nests(e):
    attention = attnviz.AttentionView(e, layer=1)
    row = attnviz.Row([attention, "beside it"])  # the list form of ipywidgets.HBox([...])
    assert isinstance(row, ipywidgets.HBox)
    assert attnviz.Row(children=[attention, "beside it"]).children[0] is attention  # and the keyword form
    with pytest.raises(TypeError, match="either as arguments or as children="):
        attnviz.Row(attention, children=[attention])
    page = bundle(row)["text/html"]
    assert "flex-direction:row" in page
    png = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert png == bundle(attention)["image/png"]
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.index(png) < page.index("beside it")
    outer = bundle(attnviz.Column("outer", row))["text/html"]
    assert "flex-direction:column" in outer and png in outer  # a nested layout keeps its children's pictures


def test_another_widget_shows_its_escaped_text(e):
    page = bundle(attnviz.Row(ipywidgets.IntSlider(description="<i>n</i>"), attnviz.TextView(e)))["text/html"]
    assert "IntSlider" in page and "&lt;i&gt;n&lt;/i&gt;" in page and "<i>n</i>" not in page


@pytest.mark.parametrize("bad", [3, None, [1]])
def test_an_item_that_is_not_a_widget_is_a_clear_error(e, bad):
    with pytest.raises(TypeError, match=r"item 1 is a .*not a widget or a string"):
        attnviz.Column(attnviz.TextView(e), bad)


def test_without_the_static_fallback_only_the_live_box(e):
    previous = attnviz.set_options(static_fallback=False)
    try:
        data = bundle(attnviz.Column("a", attnviz.TextView(e)))
    finally:
        attnviz.set_options(static_fallback=previous["static_fallback"])
    assert "text/html" not in data and WIDGET_VIEW_MIME in data


class Odd(ipywidgets.Button):
    """A widget whose display data carries a PNG entry that is not base64 (it would break out of the src=)."""

    def _repr_mimebundle_(self, **kwargs):
        return {"text/plain": "odd <widget>", "image/png": 'AAAA" onerror="alert(1)'}


def test_a_png_entry_that_is_not_base64_is_never_put_in_an_attribute():
    page = bundle(attnviz.Row(Odd()))["text/html"]
    assert "<img" not in page and "onerror" not in page
    assert "<pre>odd &lt;widget&gt;</pre>" in page  # its text, escaped, instead
