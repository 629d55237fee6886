"""The four views in a real browser (issue 4, part 6): JupyterLab for every view with a tiny BERT and a tiny ViT
(TextView: BERT, ImageView: ViT, AttentionView and CompareView: both), Notebook 7 for one smoke test per view, and
token / label text that looks like HTML.

Each Lab test renders the view, moves the layer slider by keyboard (with the notebook's active cell watched: arrow
keys on a focused control must not run notebook shortcuts) and by mouse, toggles a head and switches the class, and
checks that the kernel sees each kernel-bound change (``view.heads``, ``view.target``) and that the drawing changed
(``data-checksum``). Screenshots of every state: ``test-artifacts/browser/``. The page fixture fails a test on any
console error, page error, dialog or request to a non-local address.
"""

from __future__ import annotations

import pytest

from .jupyter_page import NotebookPage, until

pytestmark = pytest.mark.browser

VIEWS = {"text": "TextView", "image": "ImageView", "attention": "AttentionView", "compare": "CompareView"}
SENTENCE = "the movie was unbelievably charming"
XSS = "<img src=x onerror=alert(1)>"

SETUP = "import numpy as np\nimport attnviz\nfrom attnviz.testing import tiny_model"
EXPLAIN = {
    "bert": f'm, p = tiny_model("bert")\ne = attnviz.Explainer(m, p).explain("{SENTENCE}")',
    # a 64 x 64 RGB gradient with a yellow square: structure to see under the overlay (the processor resizes to 32)
    "vit": "yy, xx = np.mgrid[0:64, 0:64]\n"
           "img = np.stack([xx * 4, yy * 4, np.full_like(xx, 90)], -1).astype(np.uint8)\n"
           "img[14:38, 22:46] = (250, 220, 30)\n"
           'm, p = tiny_model("vit")\ne = attnviz.Explainer(m, p).explain(img)',
}
FOLLOWING = 'print("following cell:", type(view).__name__, "layer", view.layer)'


def view_notebook(kind: str, arch: str) -> list[str]:
    """Three cells: imports, the view (a cell above and below it, so a leaked ArrowUp/ArrowDown would show)."""
    return [SETUP, f"{EXPLAIN[arch]}\nview = attnviz.{VIEWS[kind]}(e)\nview", FOLLOWING]


def check_content(nb: NotebookPage, root, kind: str, arch: str, attrs: dict[str, str]) -> None:
    """The view drew real content, not an empty frame."""
    assert attrs["view"] == kind and int(attrs["render-count"]) >= 1 and attrs["checksum"] not in ("", "empty")
    if kind in ("text", "compare") and arch == "bert":
        panel = root.locator(".attnviz-compare-panel").first if kind == "compare" else root
        tokens = [t.strip() for t in panel.locator(".attnviz-token").all_text_contents()]
        expected = nb.kernel_json("e.tokens")
        assert tokens == expected and "movie" in tokens, f"{tokens} != {expected}"
        colours = panel.locator(".attnviz-token").evaluate_all(
            "els => els.map(e => getComputedStyle(e).backgroundColor)")
        assert len(set(colours)) >= 3, colours  # coloured by relevance, not all one colour
    if kind == "compare":
        methods = attrs["methods"].split(",")
        assert len(methods) >= 2 and root.locator(".attnviz-compare-panel").count() == len(methods)
    canvas = {"image": ".attnviz-image-canvas", "attention": ".attnviz-head-canvas",
              "compare": ".attnviz-panel-canvas" if arch == "vit" else None}.get(kind)
    if canvas:  # pixels: several colours and enough non-white ink (an empty or blank canvas fails)
        stats = root.locator(canvas).first.evaluate(
            """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              const seen = new Set(); let ink = 0;
              for (let i = 0; i < d.length; i += 4) {
                seen.add((d[i] >> 4) << 8 | (d[i + 1] >> 4) << 4 | d[i + 2] >> 4);  // 4-bit colour buckets
                if (d[i] + d[i + 1] + d[i + 2] < 600) ink++;  // not white
              }
              return {w: c.width, h: c.height, colours: seen.size, ink}; }""")
        assert stats["w"] >= 64 and stats["h"] >= 64 and stats["colours"] >= 8 and stats["ink"] > 200, stats
    if kind == "attention":
        assert int(attrs["lines"]) > 0 and int(attrs["num-tokens"]) == len(nb.kernel_json("e.tokens"))


def kernel_sees(nb: NotebookPage, expr: str, expected, timeout: float = 10.0) -> bool:
    """Browser-side changes reach the kernel asynchronously (ipywidgets throttles to one message in flight): poll."""
    seen = []
    ok = until(lambda: seen.append(nb.kernel_json(expr)) or seen[-1] == expected, timeout=timeout, interval=0.1)
    assert ok, f"the kernel's {expr} is {seen[-1]!r}, expected {expected!r}"
    return True


def keyboard_slider(nb: NotebookPage, root, shot_prefix: str = "keyboard") -> dict[str, str]:
    """Focus the layer slider, press arrows: the layer and the drawing change; the notebook's active cell does not."""
    slider = root.locator(".attnviz-layer-slider")
    slider.focus()
    start = nb.attrs(root)
    cell = nb.active_cell()
    assert cell["mode"] == "command", cell  # arrows are notebook shortcuts in command mode: the trap is armed
    top = int(slider.get_attribute("max"))
    assert int(start["layer"]) == top >= 1

    slider.press("ArrowLeft")
    left = nb.wait_redraw(root, start)
    assert int(left["layer"]) == top - 1 and left["checksum"] != start["checksum"], (start, left)
    assert nb.active_cell() == cell, "ArrowLeft on the slider ran a notebook shortcut"
    assert root.evaluate("el => el.contains(document.activeElement)"
                         " && document.activeElement.matches('.attnviz-layer-slider')"), "the slider lost focus"
    nb.shot(root, f"{shot_prefix}-arrowleft-layer{left['layer']}")

    # ArrowUp / ArrowDown select the cell above / below in command mode: on the slider they must only move it
    slider.press("ArrowUp")
    up = nb.wait_redraw(root, left)
    assert int(up["layer"]) == top and up["checksum"] == start["checksum"], (start, up)
    assert nb.active_cell() == cell, "ArrowUp on the slider selected another notebook cell"
    slider.press("ArrowDown")
    down = nb.wait_redraw(root, up)
    assert int(down["layer"]) == top - 1 and down["checksum"] == left["checksum"]
    assert nb.active_cell() == cell, "ArrowDown on the slider selected another notebook cell"
    assert kernel_sees(nb, "view.layer", top - 1)  # the layer trait reached the kernel too

    # Control: every focusable control carries the attribute, and without it the same key does run the notebook
    # shortcut (so the checks above can fail).
    missing = root.evaluate("el => [...el.querySelectorAll('button, input, select, textarea, [tabindex]')]"
                            ".filter(c => c.getAttribute('data-lm-suppress-shortcuts') !== 'true')"
                            ".map(c => c.className)")
    assert not missing, f"focusable controls without data-lm-suppress-shortcuts: {missing}"
    slider.evaluate("el => el.removeAttribute('data-lm-suppress-shortcuts')")
    try:
        slider.press("ArrowDown")
        moved = until(lambda: nb.active_cell()["index"] != cell["index"], timeout=3)
    finally:
        slider.evaluate("el => el.setAttribute('data-lm-suppress-shortcuts', 'true')")
    assert moved, "control failed: ArrowDown on an unmarked slider did not select the next cell"
    return nb.attrs(root)


def mouse_slider(nb: NotebookPage, root, before: dict[str, str]) -> dict[str, str]:
    """Click the slider's right end with the mouse: back to the last block."""
    slider = root.locator(".attnviz-layer-slider")
    box = slider.bounding_box()
    nb.page.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    after = nb.wait_redraw(root, before)
    top = int(slider.get_attribute("max"))
    assert int(after["layer"]) == top and after["checksum"] != before["checksum"], (before, after)
    assert kernel_sees(nb, "view.layer", top)
    nb.shot(root, f"mouse-click-layer{after['layer']}")
    return after


def toggle_head(nb: NotebookPage, root, kind: str, before: dict[str, str], name: str = "view") -> dict[str, str]:
    """Switch head 0 of block 0 (AttentionView: head 0 of the block shown) off by clicking it; ``name``: the view's
    variable in the kernel."""
    if kind == "attention":
        layer = int(before["layer"])
        swatch = root.locator('.attnviz-head-swatch[data-head="0"]')
        assert swatch.get_attribute("aria-pressed") == "true"
        swatch.click()
        after = nb.wait_redraw(root, before)
        assert swatch.get_attribute("aria-pressed") == "false"
        assert int(after["heads-on"]) == int(before["heads-on"]) - 1
        # browser-side: the heads trait reaches the kernel without a kernel answer
        heads = f"{name}.heads"
        kernel_sees(nb, f"[{heads}[{layer}][0], sum(map(sum, {heads})) - len({heads}) * len({heads}[0])]", [False, -1])
    else:
        cell = root.locator('.attnviz-head-cell[data-layer="0"][data-head="0"]')
        assert cell.get_attribute("aria-pressed") == "true"
        cell.click()
        after = nb.wait_kernel_answer(root, before)
        assert cell.get_attribute("aria-pressed") == "false"
        heads = nb.kernel_json(f"{name}.heads")
        assert heads[0][0] is False and sum(map(sum, heads)) == len(heads) * len(heads[0]) - 1, heads
        assert int(after["revision"]) == int(nb.kernel(f"print({name}.revision)"))
        assert nb.kernel(f"print(repr({name}.error))") == "''"
    assert after["checksum"] != before["checksum"], "toggling a head did not change the drawing"
    nb.shot(root, "head0-off")
    return after


def switch_class(nb: NotebookPage, root, before: dict[str, str]) -> dict[str, str]:
    """Pick the other class in the class picker: the kernel explains it, the drawing changes."""
    picker = root.locator("select.attnviz-class")
    old = int(before["target"])
    new = 1 - old
    picker.select_option(str(new))
    after = nb.wait_kernel_answer(root, before)
    assert int(after["target"]) == new and int(nb.kernel("print(view.target)")) == new
    assert nb.kernel("print(repr(view.error))") == "''"
    assert after["checksum"] != before["checksum"], "switching the class did not change the drawing"
    assert root.locator(".attnviz-prediction .attnviz-target").text_content() == f"class_{new}"
    nb.shot(root, f"class{new}")
    return after


def open_view(page, server, ui: str, kind: str, arch: str):
    """Open the three-cell notebook of ``view_notebook`` in ``ui`` ("lab" or "notebook"), wait for the view to draw,
    check its content and screenshot it: (NotebookPage, the view's root locator, its first data-* attributes)."""
    nb = NotebookPage(page, server, ui, f"{'lab' if ui == 'lab' else 'nb7'}-{kind}-{arch}")
    nb.open(view_notebook(kind, arch))
    root = nb.widget(kind)
    first = nb.attrs(root)
    check_content(nb, root, kind, arch, first)
    nb.shot(None, "rendered-page")
    nb.shot(root, "rendered")
    return nb, root, first


# ---------------------------------------------------------------------------------------------------- JupyterLab
# TextView shows text explanations and ImageView image ones (each refuses the other kind); the two views that take
# both are tested with both.
LAB_CASES = [("text", "bert"), ("image", "vit"), ("attention", "bert"), ("attention", "vit"), ("compare", "bert"),
             ("compare", "vit")]


@pytest.mark.parametrize(("kind", "arch"), LAB_CASES)
def test_lab_view(page, jupyter_server, kind, arch):
    nb, root, first = open_view(page, jupyter_server, "lab", kind, arch)
    state = keyboard_slider(nb, root)
    state = mouse_slider(nb, root, state)
    state = toggle_head(nb, root, kind, state)
    if kind == "attention":  # no classes here: keyboard on the head canvas, the model view, a thumbnail
        canvas = root.locator(".attnviz-head-canvas")
        canvas.focus()
        cell = nb.active_cell()
        canvas.press("ArrowDown")  # isolate query token 0, then 1
        canvas.press("ArrowDown")
        until(lambda: nb.attrs(root)["focus"] == "left:1", timeout=5)
        focused = nb.attrs(root)
        canvas.press("ArrowRight")  # the same index on the key side
        until(lambda: nb.attrs(root)["focus"] == "right:1", timeout=5)
        keyed = nb.attrs(root)
        assert nb.active_cell() == cell, "arrow keys on the head view canvas ran notebook shortcuts"
        assert 0 < int(focused["lines"]) < int(state["lines"]) and focused["checksum"] != state["checksum"]
        assert keyed["checksum"] != focused["checksum"]
        nb.shot(root, "keyboard-isolate-token1-key-side")
        canvas.press("Escape")
        until(lambda: nb.attrs(root)["focus"] == "", timeout=5)
        assert nb.attrs(root)["checksum"] == state["checksum"] and nb.active_cell() == cell
        state = nb.attrs(root)

        root.locator(".attnviz-mode-model").click()
        model = nb.wait_redraw(root, state)
        assert model["mode"] == "model" and kernel_sees(nb, "view.mode", "model")
        assert model["checksum"] != state["checksum"]
        nb.shot(root, "model-view")
        # the thumbnail of block 0, head 0 (js/src/layout.js gridLayout: 28 px row labels, 18 px header, 56 px cells)
        box = root.locator(".attnviz-model-canvas").bounding_box()
        nb.page.mouse.click(box["x"] + 28 + 28, box["y"] + 18 + 28)
        opened = nb.wait_redraw(root, model)
        assert opened["mode"] == "head" and opened["layer"] == "0" and opened["heads-on"] == "1", opened
        assert opened["checksum"] not in (state["checksum"], first["checksum"])
        kernel_sees(nb, "[view.mode, view.layer, view.heads[0]]", ["head", 0, [True, False]])
        nb.shot(root, "thumbnail-opened")
    else:
        state = switch_class(nb, root, state)
    if kind == "image":  # click a patch: the kernel sends the attention from that patch
        box = root.locator(".attnviz-image-canvas").bounding_box()
        nb.page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
        patch = nb.wait_kernel_answer(root, state)
        assert int(patch["selected-patch"]) == int(nb.kernel("print(view.selected_patch)")) == 6  # row 1, col 2 of 4x4
        assert patch["checksum"] != state["checksum"]
        nb.shot(root, "patch-attention-mouse")
        # keyboard on the image canvas: Escape back to the map, arrows move a patch cursor, Enter selects it (Escape
        # and Enter are notebook shortcuts too: command / edit mode)
        canvas = root.locator(".attnviz-image-canvas")
        canvas.focus()
        cell = nb.active_cell()
        canvas.press("Escape")
        back = nb.wait_kernel_answer(root, patch)
        assert back["selected-patch"] == "-1" and back["checksum"] == state["checksum"]
        for key in ("ArrowRight", "ArrowRight", "ArrowDown"):  # the first press shows the cursor at (0, 0)
            canvas.press(key)
        assert nb.attrs(root)["cursor"] == "1,1"
        canvas.press("Enter")
        chosen = nb.wait_kernel_answer(root, back)
        assert chosen["selected-patch"] == "5" and int(nb.kernel("print(view.selected_patch)")) == 5
        assert nb.active_cell() == cell, "keys on the image canvas ran notebook shortcuts"
        assert chosen["checksum"] not in (back["checksum"], patch["checksum"])
        nb.shot(root, "patch-attention-keyboard")
    page.recorder.check()


# ---------------------------------------------------------------------------------------------------- Notebook 7
@pytest.mark.parametrize(("kind", "arch"), [("text", "bert"), ("image", "vit"), ("attention", "bert"),
                                            ("compare", "vit")])
def test_notebook7_view(page, jupyter_server, kind, arch):
    nb, root, _ = open_view(page, jupyter_server, "notebook", kind, arch)
    state = keyboard_slider(nb, root)
    toggle_head(nb, root, kind, state)
    page.recorder.check()


# ---------------------------------------------------------------------------------------------------- safety
def test_lab_xss_token_and_label_are_text(page, jupyter_server):
    """A token and a class label that look like HTML are shown as text: no <img> element, no dialog, no request."""
    setup = (f'm, p = tiny_model("bert")\n'
             f'm.config.id2label = {{0: "{XSS}", 1: "<b>bold</b>"}}\n'
             'm.config.label2id = {v: k for k, v in m.config.id2label.items()}\n'
             f'e = attnviz.Explainer(m, p).explain("{SENTENCE}")\n'
             f'e.sample.tokens[3] = "{XSS}"\n'
             'print(e.tokens, e.label_names)')
    nb = NotebookPage(page, jupyter_server, "lab", "lab-xss-bert")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    nb.open([SETUP, setup, "attnviz.TextView(e)", "attnviz.CompareView(e)", "attnviz.AttentionView(e)"])
    text, compare, attention = nb.widget("text"), nb.widget("compare"), nb.widget("attention")
    predicted = nb.kernel_json("e.label_names[e.predicted]")
    for root in (text, compare):
        token = root.locator('.attnviz-token[data-index="3"]').first
        assert token.text_content().strip() == XSS and token.is_visible()
        assert root.locator(".attnviz-predicted").text_content() == predicted
        options = root.locator("select.attnviz-class option").all_text_contents()
        assert options[0].startswith(XSS) and options[1].startswith("<b>bold</b>"), options
        assert root.locator("img, b b, script").count() == 0
    assert int(attention.get_attribute("data-num-tokens")) == len(nb.kernel_json("e.tokens"))
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], .attnviz img, .attnviz script').length") == 0
    assert not [u for u in requests if u.rstrip("/").endswith("/x")], "the <img src=x> payload was fetched"
    assert not page.recorder.dialogs
    text.locator('.attnviz-token[data-index="3"]').first.hover()
    assert XSS in text.locator(".attnviz-readout").text_content()
    nb.shot(text, "textview-token-and-label-as-text")
    nb.shot(compare, "compareview-token-and-label-as-text")
    nb.shot(attention, "attentionview-token-as-canvas-text")
    page.recorder.check()


# ---------------------------------------------------------------------------------------------------- display forms
def display_form_cells(setup: str) -> list[str]:
    """A view shown with display() before the last line, two views in an ipywidgets HBox, one view shown twice, a
    label and a view in an attnviz.Column."""
    return [setup,
            'shown = attnviz.TextView(e)\ndisplay(shown)\nprint("display() was not the last line")',
            "ipywidgets.HBox([attnviz.AttentionView(e), attnviz.TextView(e)])",
            "twice = attnviz.TextView(e)\ndisplay(twice)",
            "twice",
            "attnviz.Column('a column of views', attnviz.TextView(e))"]


def check_display_forms(nb, page, outputs: list[dict]) -> None:
    """Every form of display_form_cells draws (on any stack): the display() view, both views of the HBox side by
    side, both copies of the view shown twice, which share one model (a change in one redraws the other), and the
    Column's label above its view."""
    printed = "".join(o.get("text", "") for o in outputs[1]["outputs"] if o.get("output_type") == "stream")
    assert "display() was not the last line" in printed
    # DOM order of the text views: display(), the HBox's, then the two copies of `twice`
    shown = nb.widget("text", 0)
    check_content(nb, shown, "text", "bert", nb.attrs(shown))
    nb.shot(shown, "display-not-last-line")

    hbox = page.locator(".widget-hbox").filter(has=page.locator(".attnviz")).first
    in_box_att = hbox.locator('.attnviz[data-view="attention"]')
    in_box_text = hbox.locator('.attnviz[data-view="text"]')
    assert in_box_att.count() == 1 and in_box_text.count() == 1
    att = nb.widget("attention", 0)
    check_content(nb, att, "attention", "bert", nb.attrs(att))
    boxed = nb.widget("text", 1)
    assert boxed.evaluate("(el) => !!el.closest('.widget-hbox')")
    check_content(nb, boxed, "text", "bert", nb.attrs(boxed))
    a, t = in_box_att.bounding_box(), in_box_text.bounding_box()
    assert a["width"] > 100 and t["width"] > 100 and a["x"] + a["width"] <= t["x"] + 1, (a, t)  # side by side
    hbox.scroll_into_view_if_needed()
    nb.shot(hbox, "hbox")

    one, two = nb.widget("text", 2), nb.widget("text", 3)
    a1, a2 = nb.attrs(one), nb.attrs(two)
    assert a1["checksum"] == a2["checksum"] and a1["layer"] == a2["layer"], (a1, a2)
    nb.shot(one, "same-view-first-copy")
    nb.shot(two, "same-view-second-copy")
    # both copies share one model: a change in the first redraws the second the same way
    one.locator(".attnviz-layer-slider").focus()
    one.locator(".attnviz-layer-slider").press("ArrowLeft")
    moved = nb.wait_redraw(one, a1)
    follow = nb.wait_redraw(two, a2)
    assert moved["layer"] == follow["layer"] == str(int(a1["layer"]) - 1), (moved, follow)
    assert moved["checksum"] == follow["checksum"] != a1["checksum"]
    kernel_sees(nb, "twice.layer", int(moved["layer"]))
    two.scroll_into_view_if_needed()
    nb.shot(two, "same-view-second-copy-followed")

    in_column = nb.widget("text", 4)  # attnviz.Column: a VBox, its label above the live view
    check_content(nb, in_column, "text", "bert", nb.attrs(in_column))
    column = page.locator(".widget-vbox").filter(has=page.locator('.attnviz[data-view="text"]')).last
    label = column.get_by_text("a column of views")
    assert in_column.evaluate("(el) => !!el.closest('.widget-vbox')") and label.count() == 1
    assert label.bounding_box()["y"] < in_column.bounding_box()["y"]
    column.scroll_into_view_if_needed()
    nb.shot(column, "column")
    nb.shot(None, "page")


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_display_forms(page, jupyter_server, ui):
    """JupyterLab 4 and Notebook 7 with ipywidgets 8 (test_widgets7.py: the same on the ipywidgets 7 stacks)."""
    nb = NotebookPage(page, jupyter_server, ui, f"display-{ui}")
    setup = ("import ipywidgets\nimport attnviz\nfrom attnviz.testing import tiny_model\n"
             'e = attnviz.Explainer(*tiny_model("bert", heads=4)).explain("the movie was wonderful and the actors '
             'were brilliant")')
    outputs = nb.open(display_form_cells(setup))
    check_display_forms(nb, page, outputs)
    page.recorder.check()
