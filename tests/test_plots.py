"""Static figures: text and image plots save to PNG, SVG and PDF and are not blank."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pytest
from conftest import sample_image
from matplotlib.figure import Figure

import attnviz
from attnviz.plots import plot
from attnviz.testing import tiny_model

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def text_e():
    model, tok = tiny_model("bert")
    model.config.id2label = {0: XSS, 1: "fine"}
    model.config.label2id = {XSS: 0, "fine": 1}
    return attnviz.Explainer(model, tok).explain(("the movie was unbelievably charming , $5", "a boring mess"))


@pytest.fixture(scope="module")
def image_e():
    model, proc = tiny_model("vit")
    return attnviz.Explainer(model, proc).explain(sample_image())


def saved(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()


def not_blank(png: bytes) -> np.ndarray:
    img = mpimg.imread(io.BytesIO(png))[..., :3]
    assert img.std() > 0.05, "the figure is (nearly) one colour"
    saturation = img.max(-1) - img.min(-1)
    assert (saturation > 0.3).mean() > 0.01, "no coloured pixels: the relevance colours are missing"
    return img


@pytest.mark.parametrize("method", ["gae", "attcat", "rollout"])
def test_text_plot_exports(text_e, method):
    fig = plot(text_e, method)
    assert isinstance(fig, Figure)
    not_blank(saved(fig, "png"))
    svg = saved(fig, "svg").decode()
    assert "<svg" in svg
    pdf = saved(fig, "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000


def test_text_plot_title_and_colour_scale(text_e):
    fig = plot(text_e, "attcat", target=1)
    ax = fig.axes[0]
    assert ax.get_title(loc="left").startswith("AttCAT (Qiang et al. 2022) · class 'fine' (p = ")
    lo, hi = fig.axes[1].get_xlim()  # the horizontal colorbar spans the colour range
    assert lo == pytest.approx(-hi) and hi > 0  # signed: symmetric around zero
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == text_e.num_tokens


def test_dollar_signs_are_not_mathtext():
    from attnviz.plots import _plain

    assert _plain("$5 and $6") == r"\$5 and \$6"


def test_markup_in_labels_stays_text_in_svg(text_e):
    svg = saved(plot(text_e, "gae", target=0), "svg").decode()
    assert "<img" not in svg


def test_words_and_layer(text_e):
    fig = plot(text_e, "rollout", words=True, layer=0)
    assert len(fig.axes[0].texts) == len(text_e.words(text_e.map("rollout"))[0])
    assert "through block 0" in fig.axes[0].get_title(loc="left")


def test_image_plot_exports(image_e):
    fig = plot(image_e, "gae")
    img = not_blank(saved(fig, "png"))
    assert img.shape[0] > 200
    assert saved(fig, "pdf").startswith(b"%PDF")
    assert "<svg" in saved(fig, "svg").decode()
    assert "GAE (Chefer, Gur & Wolf, ICCV 2021) · class" in fig.axes[0].get_title()


def test_draws_into_a_given_axes(image_e, text_e):
    fig = Figure(figsize=(10, 4))
    a, b = fig.subplots(1, 2)
    assert plot(image_e, "rollout", ax=a) is fig
    assert plot(text_e, "rollout", ax=b) is fig
    not_blank(saved(fig, "png"))


def test_errors(text_e):
    with pytest.raises(ValueError, match="unknown method"):
        plot(text_e, "nope")
    with pytest.raises(TypeError, match="Explanation"):
        plot("text", "gae")


def test_a_returned_figure_draws_inline_without_pyplot():
    from attnviz import Explainer
    from attnviz.testing import tiny_model

    e = Explainer(*tiny_model("bert")).explain("the movie was charming")
    fig = e.plot("gae")
    png = fig._repr_png_()  # what IPython shows for the cell's value (a plain Figure shows its repr text only)
    shown = mpimg.imread(io.BytesIO(png), format="png")
    direct = io.BytesIO()
    fig.savefig(direct, format="png", dpi=100, bbox_inches="tight")
    again = mpimg.imread(io.BytesIO(direct.getvalue()), format="png")  # the same figure (tight bbox: +-a few px)
    assert abs(shown.shape[0] - again.shape[0]) <= 5 and abs(shown.shape[1] - again.shape[1]) <= 5
    colours = {tuple(px) for px in (shown[..., :3].reshape(-1, 3) * 255).round().astype(int)}
    assert len(colours) > e.num_tokens  # coloured token boxes and text, not a blank canvas


def test_pdf_export_embeds_truetype_fonts_and_titles_use_readable_names():
    import io

    from attnviz import Explainer
    from attnviz.testing import tiny_model

    e = Explainer(*tiny_model("bert")).explain("the movie was charming")
    fig = e.plot("chefer")
    assert fig.axes[0].get_title(loc="left").startswith("Chefer et al. 2021 (LRP)")
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf")
    pdf = buf.getvalue()
    assert b"/FontFile2" in pdf and b"/CIDFontType2" in pdf and b"/Type3" not in pdf  # TrueType (Type 42)


def test_methods_print_as_a_table_not_function_addresses():
    import attnviz

    table = attnviz.methods()
    text = repr(table)
    assert "function" not in text and " at 0x" not in text
    assert text.splitlines()[0].split() == ["name", "title", "family", "class-specific", "signed"]
    assert "Chefer et al. 2021 (LRP)" in text and "lrp_full" in text
    html = table._repr_html_()
    assert html.startswith("<table>") and "AttCAT (Qiang et al. 2022)" in html and "class-specific" in html
    assert " at 0x" not in repr(table["gae"]) and "GAE" in repr(table["gae"])
