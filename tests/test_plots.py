"""Static figures: text and image plots save to PNG, SVG and PDF and are not blank."""

from __future__ import annotations

import io
import re

import matplotlib.image as mpimg
import numpy as np
import pytest
from conftest import sample_image
from matplotlib import colormaps
from matplotlib.colors import to_hex
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


def as_drawn(text: str) -> str:
    """A token's text as the figure holds it: '$' escaped (it would start matplotlib's mathtext)."""
    return text.replace("$", r"\$")


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


def expected_range(values: np.ndarray, signed: bool, skip: np.ndarray) -> tuple[float, float]:
    """The colour range plot() documents, written out: the relevance of the drawn (not skipped) units, symmetric
    around zero for a signed method, from min(0, lowest) to the highest otherwise."""
    v = values[~skip]
    if signed:
        m = float(np.abs(v).max())
        return -m, m
    return min(0.0, float(v.min())), float(v.max())


def expected_box_colours(values: np.ndarray, signed: bool, special: np.ndarray) -> np.ndarray:
    """[N, 3] RGB in 0..255 each token box must be filled with: Reds (RdBu_r when signed) over that range, special
    tokens white (ignore_special)."""
    lo, hi = expected_range(values, signed, special)
    rgb = colormaps["RdBu_r" if signed else "Reds"]((values - lo) / (hi - lo))[:, :3] * 255
    rgb[special] = 255
    return rgb


def box_colours(fig: Figure, png: bytes) -> np.ndarray:
    """[N, 3] RGB in 0..255 that fills each token box of a text figure in its saved PNG (no bbox_inches): the most
    frequent colour inside the box, 2 px in from its edge (the token's text covers a minority of the box)."""
    img = np.round(mpimg.imread(io.BytesIO(png))[..., :3] * 255).astype(int)
    assert img.shape[:2] == tuple(np.round(fig.get_size_inches()[::-1] * fig.dpi).astype(int))
    out = []
    for box in fig.axes[0].patches:
        bb = box.get_window_extent()  # display pixels, origin bottom left
        rows = slice(int(np.ceil(img.shape[0] - bb.y1)) + 2, int(np.floor(img.shape[0] - bb.y0)) - 2)
        cols = slice(int(np.ceil(bb.x0)) + 2, int(np.floor(bb.x1)) - 2)
        colours, counts = np.unique(img[rows, cols].reshape(-1, 3), axis=0, return_counts=True)
        out.append(colours[counts.argmax()])
    return np.array(out)


@pytest.mark.parametrize("method", ["gae", "attcat", "rollout"])
def test_text_plot_exports(text_e, method):
    fig = plot(text_e, method)
    assert isinstance(fig, Figure)
    values = text_e.map(method).astype(np.float64)
    signed = method == "attcat"
    expected = expected_box_colours(values, signed, text_e.special)
    png = saved(fig, "png")
    not_blank(png)
    drawn = box_colours(fig, png)  # each token's box, in token order, has its own value's colour
    assert len(drawn) == text_e.num_tokens
    np.testing.assert_allclose(drawn, expected, atol=2)
    content = ~text_e.special
    if not signed:  # the most relevant token's box is the darkest one, the least relevant's the lightest
        luminance = drawn @ np.array([0.2126, 0.7152, 0.0722])
        assert np.argmin(np.where(content, luminance, np.inf)) == np.argmax(np.where(content, values, -np.inf))
        assert np.argmax(np.where(content, luminance, -np.inf)) == np.argmin(np.where(content, values, np.inf))
    svg = saved(fig, "svg").decode()
    fills = re.findall(r"fill: (#[0-9a-f]{6})", svg)
    boxes = [to_hex(c / 255) for c in expected]  # the SVG's token boxes, in order, in the same colours
    assert any(fills[i:i + len(boxes)] == boxes for i in range(len(fills))), (boxes, fills)
    pdf = saved(fig, "pdf")
    assert pdf.startswith(b"%PDF") and len(pdf) > 2000


def test_text_plot_title_and_colour_scale(text_e):
    fig = plot(text_e, "attcat", target=1)
    ax = fig.axes[0]
    assert ax.get_title(loc="left").startswith("AttCAT (Qiang et al. 2022) · class 'fine' (p = ")
    lo, hi = fig.axes[1].get_xlim()  # the horizontal colorbar spans the colour range
    values = text_e.map("attcat", target=1).astype(np.float64)
    top = float(np.abs(values[~text_e.special]).max())  # signed: symmetric around zero, to the largest |value|
    assert (lo, hi) == (pytest.approx(-top, rel=1e-6), pytest.approx(top, rel=1e-6))
    texts = [t.get_text() for t in ax.texts]
    assert texts == [as_drawn(t) for t in text_e.tokens]  # every token, in order


def test_dollar_signs_are_not_mathtext():
    from attnviz.plots import _plain

    assert _plain("$5 and $6") == r"\$5 and \$6"


def test_markup_in_labels_stays_text_in_svg(text_e):
    svg = saved(plot(text_e, "gae", target=0), "svg").decode()
    assert "<img" not in svg


def test_words_and_layer(text_e):
    fig = plot(text_e, "rollout", words=True, layer=0)
    words, values, _ = text_e.words(text_e.map("rollout", layer=0))  # block 0's map, word pieces summed
    assert [t.get_text() for t in fig.axes[0].texts] == [as_drawn(w) for w in words]
    assert "through block 0" in fig.axes[0].get_title(loc="left")
    special = np.isin(words, ["[CLS]", "[SEP]"])
    expected = expected_box_colours(values.astype(np.float64), False, special)
    assert fig.axes[1].get_xlim() == pytest.approx(expected_range(values.astype(np.float64), False, special))
    assert not np.allclose(values, text_e.words(text_e.map("rollout"))[1])  # block 0 is not the last block
    np.testing.assert_allclose(box_colours(fig, saved(fig, "png")), expected, atol=2)


def test_image_plot_exports(image_e):
    fig = plot(image_e, "gae")
    png = saved(fig, "png")
    img = not_blank(png)
    assert img.shape[:2] == (540, 600)  # 6 x 5.4 inches at 100 dpi
    # At each patch's centre the picture is inferno(relevance) at alpha 0.6 over the image the model saw (bilinear:
    # the mean of the 2 x 2 pixels around the centre of the 8 x 8 patch)
    grid = image_e.patch_map(image_e.map("gae")).astype(np.float64)
    lo, hi = min(0.0, grid.min()), grid.max()
    ax, h, w = fig.axes[0], *image_e.image.shape[:2]
    rgb = np.round(mpimg.imread(io.BytesIO(png))[..., :3] * 255)
    for i in range(4):
        for j in range(4):
            x, y = ax.transData.transform(((j + 0.5) * w / 4, (i + 0.5) * h / 4))
            under = image_e.image[8 * i + 3:8 * i + 5, 8 * j + 3:8 * j + 5].reshape(-1, 3).mean(0)
            expected = 0.6 * np.array(colormaps["inferno"]((grid[i, j] - lo) / (hi - lo))[:3]) * 255 + 0.4 * under
            np.testing.assert_allclose(rgb[int(img.shape[0] - y), int(x)], expected, atol=4, err_msg=f"patch {i, j}")
    assert saved(fig, "pdf").startswith(b"%PDF")
    assert "<svg" in saved(fig, "svg").decode()
    assert "GAE (Chefer, Gur & Wolf, ICCV 2021) · class" in fig.axes[0].get_title()


def test_draws_into_a_given_axes(image_e, text_e):
    fig = Figure(figsize=(10, 4))
    a, b = fig.subplots(1, 2)
    assert plot(image_e, "rollout", ax=a) is fig
    assert plot(text_e, "rollout", ax=b) is fig
    not_blank(saved(fig, "png"))
    # each Axes holds its own input's relevance: the image's patch grid as the overlay, the sentence's tokens
    overlay = a.images[-1].get_array()
    np.testing.assert_allclose(overlay, image_e.patch_map(image_e.map("rollout")), rtol=1e-6)
    assert [t.get_text() for t in b.texts] == [as_drawn(t) for t in text_e.tokens]
    assert [to_hex(p.get_facecolor()) for p in b.patches] == \
        [to_hex(c / 255) for c in expected_box_colours(text_e.map("rollout").astype(np.float64), False,
                                                        text_e.special)]


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
    # every token's own colour fills a box-sized area of what IPython shows (the tight bbox moves the boxes)
    pixels, counts = np.unique((shown[..., :3].reshape(-1, 3) * 255).round().astype(int), axis=0, return_counts=True)
    expected = expected_box_colours(e.map("gae").astype(np.float64), False, e.special)
    for k, colour in enumerate(expected):
        near = np.abs(pixels - colour).max(-1) <= 2
        assert counts[near].sum() >= 100, (e.tokens[k], colour)


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
