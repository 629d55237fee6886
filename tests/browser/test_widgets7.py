"""attnviz's views on the widget stack nearest Google Colab's (issue 21): classic Notebook 6.5, ipywidgets 7.7.1,
widgetsnbextension 3.6 and anywidget's classic-notebook nbextension, from ``.venv-widgets7/``
(``scripts/widgets7_env.sh``; the module is skipped without it).

One classic Notebook server for the module, started from the venv (its kernel is the venv's interpreter: the tests
check ``ipywidgets.__version__`` in it). Each test writes its own notebook, opens ``/notebooks/<name>``, runs every
cell with ``Jupyter.notebook.execute_all_cells()`` and checks:

- every view draws (TextView, ImageView, AttentionView, CompareView, FlowView; for a tiny GPT-2 LogitLensView,
  HeadMathView and DirectAttributionView, an ipywidgets VBox of two views, whose grid click opens a head below);
- kernel round trips: the layer slider (keyboard and mouse; arrows on it must not move the notebook's selection), a
  head toggle and a method switch in TextView (the kernel answers, the drawing changes, the kernel holds the new
  trait), the PNG button (a binary buffer sent to the kernel), a head toggle in AttentionView, and a trait set in
  the kernel that redraws the view;
- views shown with ``display(view)`` before the last line, inside ``ipywidgets.HBox``, and one view object shown
  twice (both copies draw and follow one another).

JupyterLab 3.6 + ipywidgets 7.7.1 (``.venv-widgets7/lab3``, made by ``widgets7_env.sh --lab3``; skipped without it):
TextView and AttentionView draw and answer the same kernel round trips.

As in ``conftest.py``'s ``page`` fixture, console errors, page errors, dialogs and any request to a non-local address
fail the test. Screenshots: ``test-artifacts/browser/widgets7-*.png``.
"""

from __future__ import annotations

import pytest

from .classic_page import LAB3_VENV, VENV_PYTHON, ClassicNotebookPage, ClassicServer, Lab3Server, hide_news_banner
from .conftest import recorded_page, require_chromium
from .jupyter_page import NotebookPage, until
from .test_views import check_content, check_display_forms, display_form_cells, kernel_sees, toggle_head

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not VENV_PYTHON.exists(),
                       reason=f"{VENV_PYTHON} is missing: run scripts/widgets7_env.sh (classic Notebook 6.5 + "
                              "ipywidgets 7.7.1 in its own venv)"),
]

SENTENCE = "the movie was wonderful and the actors were brilliant"
SETUP = ("import sys\nimport numpy as np\nimport ipywidgets\nimport attnviz\nfrom attnviz.testing import tiny_model\n"
         'print("stack:", sys.executable, "ipywidgets", ipywidgets.__version__)')
BERT = f'e = attnviz.Explainer(*tiny_model("bert", heads=4)).explain("{SENTENCE}")'
VIT = 'ei = attnviz.Explainer(*tiny_model("vit")).explain(np.random.default_rng(0).random((32, 32, 3)))'
GPT2 = f'ed = attnviz.Explainer(*tiny_model("gpt2", heads=4)).explain("{SENTENCE}")'


def serve(server):
    """A started server for a module's tests (a generator for fixtures), stopped after them."""
    try:
        server.wait_ready(timeout=120.0)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def classic_server(tmp_path_factory):
    require_chromium()
    yield from serve(ClassicServer(tmp_path_factory.mktemp("notebook6")))


def recording_page(browser, server):
    """conftest.py's recorded page, with Notebook 6.5's news banner hidden and a longer timeout (2 shared cores)."""
    yield from recorded_page(browser, server, timeout_ms=60_000, prepare=hide_news_banner)


@pytest.fixture
def cpage(browser, classic_server):
    yield from recording_page(browser, classic_server)


def open_notebook(cpage, server, label: str, cells: list[str]) -> tuple[ClassicNotebookPage, list[dict]]:
    nb = ClassicNotebookPage(cpage, server, f"widgets7-{label}")
    outputs = nb.open(cells)
    # the stack under test: the kernel is the venv's interpreter with ipywidgets 7.7.1, and the page loaded
    # widgetsnbextension's and anywidget's classic nbextensions
    stack = nb.output_texts(outputs, 0)
    assert f"stack: {VENV_PYTHON.parent}/python" in stack and "ipywidgets 7.7.1" in stack, stack
    assert nb.kernel("import ipywidgets; print(ipywidgets.__version__)") == "7.7.1"
    loaded = cpage.evaluate("() => ['nbextensions/jupyter-js-widgets/extension', 'nbextensions/anywidget/extension']"
                            ".map((m) => window.requirejs.defined(m))")
    assert loaded == [True, True], loaded
    return nb, outputs


def no_error_shown(root) -> None:
    status = root.locator(".attnviz-status")
    texts = [t for t in status.all_inner_texts() if t.strip()] if status.count() else []
    assert not texts, f"the view shows an error: {texts}"


def canvas_ink(root, selector: str) -> dict:
    """Pixels of the first canvas matching ``selector``: size, 4-bit colour buckets, non-white pixels."""
    return root.locator(selector).first.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const seen = new Set(); let ink = 0;
          for (let i = 0; i < d.length; i += 4) {
            seen.add((d[i] >> 4) << 8 | (d[i + 1] >> 4) << 4 | d[i + 2] >> 4);
            if (d[i] + d[i + 1] + d[i + 2] < 600) ink++;
          }
          return {w: c.width, h: c.height, colours: seen.size, ink}; }""")


# ---------------------------------------------------------------------------------------------------- every view
def test_widgets7_every_view_draws(cpage, classic_server):
    cells = [SETUP, f"{BERT}\nattnviz.TextView(e)", f"{VIT}\nattnviz.ImageView(ei)", "attnviz.AttentionView(e)",
             "attnviz.CompareView(e)", "attnviz.FlowView(e)", f"{GPT2}\nattnviz.LogitLensView(ed)",
             "attnviz.HeadMathView(ed)", "dla = attnviz.DirectAttributionView(ed)\ndla"]
    nb, _ = open_notebook(cpage, classic_server, "views", cells)

    for kind, arch in (("text", "bert"), ("image", "vit"), ("attention", "bert"), ("compare", "bert")):
        root = nb.widget(kind)
        check_content(nb, root, kind, arch, nb.attrs(root))  # tokens, colours, canvas pixels (test_views.py)
        no_error_shown(root)
        nb.shot(root, f"{kind}view")

    flow = nb.widget("flow")
    a = nb.attrs(flow)
    assert a["models"] == "1" and int(a["edges"]) > 0, a
    stats = canvas_ink(flow, ".attnviz-flow-canvas")
    assert stats["colours"] >= 4 and stats["ink"] > 200, stats
    no_error_shown(flow)
    nb.shot(flow, "flowview")

    # the decoder's views: LogitLensView (grid 0), HeadMathView (head-math 0), DirectAttributionView = VBox of a
    # grid (grid 1) and the head it opens (head-math 1)
    lens = nb.widget("grid", 0)
    assert nb.attrs(lens)["kind"] == "logit lens"
    n_tokens = len(nb.kernel_json("ed.tokens"))
    assert (nb.attrs(lens)["rows"], nb.attrs(lens)["cols"]) == ("2", str(n_tokens)), nb.attrs(lens)
    stats = canvas_ink(lens, ".attnviz-grid-canvas")
    assert stats["colours"] >= 4 and stats["ink"] > 200, stats
    no_error_shown(lens)
    nb.shot(lens, "logitlensview")

    head = nb.widget("head-math", 0)
    assert "Inside block 0, head 0" in head.locator(".attnviz-title").inner_text()
    assert head.locator(".attnviz-math-table tr").count() > 1
    no_error_shown(head)
    nb.shot(head, "headmathview")

    dla_grid = nb.widget("grid", 1)
    dla_head = nb.widget("head-math", 1)
    assert nb.attrs(dla_grid)["kind"] == "direct attribution"
    box = cpage.locator(".widget-vbox").filter(has=cpage.locator('.attnviz[data-view="grid"]')).last
    assert box.locator('.attnviz[data-view="grid"]').count() == 1
    assert box.locator('.attnviz[data-view="head-math"]').count() == 1
    no_error_shown(dla_grid)
    no_error_shown(dla_head)
    nb.shot(dla_grid, "directattributionview-grid")
    # a click on head 0.1 in the box's grid: Python observes the grid's `selected` and the head view below answers
    # (js/src/grid_draw.js gridPlan: row labels 56 px, column labels 86 px, rows 22 px, cells 64 px wide here)
    before = nb.attrs(dla_head)
    dla_grid.locator(".attnviz-grid-canvas").click(position={"x": 56 + 64 + 32, "y": 86 + 11})
    after = nb.wait_kernel_answer(dla_head, before)
    assert (after["block"], after["head"]) == ("0", "1"), after
    assert nb.kernel_json("dla.grid.selected") == [0, 1]
    assert "Inside block 0, head 1" in dla_head.locator(".attnviz-title").inner_text()
    # the box is taller than the page: a tall viewport, or the notebook's fixed header covers its top in the picture
    cpage.set_viewport_size({"width": 1280, "height": 2000})
    box.scroll_into_view_if_needed()
    nb.shot(box, "directattributionview-vbox")
    cpage.set_viewport_size({"width": 1280, "height": 1000})
    nb.shot(None, "page-end")
    cpage.recorder.check()


# ---------------------------------------------------------------------------------------------------- round trips
def test_widgets7_kernel_round_trips(cpage, classic_server):
    cells = [SETUP, f"{BERT}\ntext = attnviz.TextView(e)\ntext", "att = attnviz.AttentionView(e)\natt",
             'print("cell below the views")']
    nb, _ = open_notebook(cpage, classic_server, "roundtrip", cells)
    text = nb.widget("text")
    first = nb.attrs(text)
    check_content(nb, text, "text", "bert", first)
    nb.shot(text, "textview-rendered")

    # 1. the layer slider, by keyboard: the view redraws, the kernel sees the layer, and arrows pressed on the slider
    # do not move the notebook's selection (widgetsnbextension turns the keyboard manager off while a widget output
    # has the focus)
    slider = text.locator(".attnviz-layer-slider")
    cpage.evaluate("() => { window.Jupyter.notebook.select(1); window.Jupyter.notebook.command_mode(); }")
    slider.focus()
    cell = nb.active_cell()
    assert cell == {"index": 1, "mode": "command"}, cell  # ArrowUp / ArrowDown would select cell 0 / 2
    assert not nb.shortcuts_enabled(), "the notebook's shortcuts stay live while the slider has the focus"
    top = int(slider.get_attribute("max"))
    assert int(first["layer"]) == top >= 1
    slider.press("ArrowLeft")
    left = nb.wait_redraw(text, first)
    assert int(left["layer"]) == top - 1 and left["checksum"] != first["checksum"], (first, left)
    kernel_sees(nb, "text.layer", top - 1)
    nb.shot(text, f"textview-keyboard-layer{left['layer']}")
    slider.press("ArrowUp")
    up = nb.wait_redraw(text, left)
    assert int(up["layer"]) == top and up["checksum"] == first["checksum"], (first, up)
    slider.press("ArrowDown")
    down = nb.wait_redraw(text, up)
    assert int(down["layer"]) == top - 1 and down["checksum"] == left["checksum"]
    assert nb.active_cell() == cell, "arrows on the slider moved the notebook's selection"
    kernel_sees(nb, "text.layer", top - 1)
    # ... and by mouse: a click at the slider's right end goes back to the last block
    box = slider.bounding_box()
    cpage.mouse.click(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
    mouse = nb.wait_redraw(text, down)
    assert int(mouse["layer"]) == top and mouse["checksum"] == first["checksum"], mouse
    kernel_sees(nb, "text.layer", top)
    # control: with the focus off the widget, the same key does move the selection (so the check above can fail)
    cpage.evaluate("() => document.activeElement && document.activeElement.blur()")
    assert until(nb.shortcuts_enabled, timeout=3)
    cpage.keyboard.press("ArrowDown")
    assert until(lambda: nb.active_cell()["index"] == 2, timeout=3), nb.active_cell()

    # 2. kernel -> browser: a trait set in the kernel redraws the view
    nb.kernel("text.layer = 0")
    until(lambda: nb.attrs(text)["layer"] == "0", timeout=10)
    from_kernel = nb.attrs(text)
    assert from_kernel["layer"] == "0" and from_kernel["checksum"] != mouse["checksum"], from_kernel
    nb.shot(text, "textview-layer0-set-in-kernel")

    # 3. a head toggle (kernel-bound in TextView): the kernel answers with a new map and revision
    toggled = toggle_head(nb, text, "text", from_kernel, name="text")
    no_error_shown(text)

    # 4. a method switch (kernel-bound): the kernel explains with the new method, the drawing changes
    picker = text.locator("select.attnviz-method")
    assert picker.input_value() == nb.kernel("print(text.method)") != "rollout"
    picker.select_option("rollout")
    switched = nb.wait_kernel_answer(text, toggled)
    assert switched["method"] == "rollout" and nb.kernel("print(text.method)") == "rollout", switched
    assert nb.kernel("print(repr(text.error))") == "''"
    assert switched["checksum"] != toggled["checksum"], "switching the method did not change the drawing"
    no_error_shown(text)
    nb.shot(text, "textview-method-rollout")

    # 5. the PNG button: the browser sends the picture to the kernel as a binary buffer (model.send with buffers)
    with cpage.expect_download() as download:
        text.locator(".attnviz-save").click()
    assert download.value.suggested_filename.endswith(".png")
    assert until(lambda: nb.kernel("print(bytes(text.last_png or b'')[:8] == b'\\x89PNG\\r\\n\\x1a\\n')") == "True",
                 timeout=10), "the kernel did not get the PNG"

    # 6. AttentionView: a head toggle (answered in the browser) reaches the kernel
    att = nb.widget("attention")
    toggle_head(nb, att, "attention", nb.attrs(att), name="att")
    nb.shot(None, "page")
    cpage.recorder.check()


# ---------------------------------------------------------------------------------------------------- display forms
def test_widgets7_display_forms(cpage, classic_server):
    nb, outputs = open_notebook(cpage, classic_server, "display", display_form_cells(f"{SETUP}\n{BERT}"))
    check_display_forms(nb, cpage, outputs)


# ---------------------------------------------------------------------------------------------------- JupyterLab 3
@pytest.fixture(scope="module")
def lab3_server(tmp_path_factory):
    require_chromium()
    if not (LAB3_VENV / "bin" / "python").exists():
        pytest.skip(f"{LAB3_VENV} is missing: run scripts/widgets7_env.sh --lab3 (JupyterLab 3.6 + ipywidgets 7.7.1)")
    yield from serve(Lab3Server(tmp_path_factory.mktemp("lab3")))


@pytest.fixture
def lab3_page(browser, lab3_server):
    yield from recording_page(browser, lab3_server)


def test_widgets7_lab3_views_and_round_trips(lab3_page, lab3_server):
    """JupyterLab 3.6 + ipywidgets 7.7.1 (jupyterlab_widgets 1.1, anywidget's prebuilt lab extension): TextView and
    AttentionView draw; the layer slider by keyboard (the notebook's active cell stays), a head toggle and a method
    switch answered by the kernel, an AttentionView head toggle seen by the kernel."""
    page = lab3_page
    nb = NotebookPage(page, lab3_server, "lab", "widgets7-lab3")
    cells = nb.open([SETUP, f"{BERT}\nview = attnviz.TextView(e)\nview", 'print("following cell")',
                     "att = attnviz.AttentionView(e)\natt"])
    stack = "".join(o.get("text", "") for o in cells[0]["outputs"])
    assert f"stack: {LAB3_VENV}/bin/python" in stack and "ipywidgets 7.7.1" in stack, stack
    assert page.evaluate("() => window.jupyterapp.version").startswith("3.6"), "not JupyterLab 3.6"

    text = nb.widget("text")
    check_content(nb, text, "text", "bert", nb.attrs(text))
    nb.shot(None, "rendered-page")
    nb.shot(text, "textview")
    # the layer slider by keyboard: arrows move the layer, not the notebook's active cell (test_views.py's
    # keyboard_slider less its control: Lab 3's command-mode shortcuts match `.jp-Notebook:focus` only, so a key on
    # any focused control inside an output never reaches them, marked or not)
    slider = text.locator(".attnviz-layer-slider")
    slider.focus()
    first, cell = nb.attrs(text), nb.active_cell()
    assert cell["mode"] == "command", cell
    top = int(slider.get_attribute("max"))
    slider.press("ArrowLeft")
    left = nb.wait_redraw(text, first)
    assert int(left["layer"]) == top - 1 and left["checksum"] != first["checksum"], (first, left)
    slider.press("ArrowUp")
    up = nb.wait_redraw(text, left)
    slider.press("ArrowDown")
    state = nb.wait_redraw(text, up)
    assert int(up["layer"]) == top and int(state["layer"]) == top - 1 and state["checksum"] == left["checksum"]
    assert nb.active_cell() == cell, "arrows on the slider ran notebook shortcuts"
    kernel_sees(nb, "view.layer", top - 1)
    nb.shot(text, f"textview-keyboard-layer{state['layer']}")
    state = toggle_head(nb, text, "text", state)  # kernel-bound: new revision, heads in the kernel, new drawing
    picker = text.locator("select.attnviz-method")
    picker.select_option("rollout")
    switched = nb.wait_kernel_answer(text, state)
    assert switched["method"] == "rollout" and nb.kernel("print(view.method)") == "rollout"
    assert switched["checksum"] != state["checksum"]
    no_error_shown(text)
    nb.shot(text, "textview-method-rollout")

    att = nb.widget("attention")
    check_content(nb, att, "attention", "bert", nb.attrs(att))
    before = nb.attrs(att)
    att.locator('.attnviz-head-swatch[data-head="0"]').click()
    after = nb.wait_redraw(att, before)
    assert int(after["heads-on"]) == int(before["heads-on"]) - 1 and after["checksum"] != before["checksum"]
    kernel_sees(nb, f"att.heads[{int(before['layer'])}][0]", False)
    nb.shot(att, "attentionview-head0-off")
    page.recorder.check()


SAVED_CELLS = [f"{SETUP}\n{GPT2}", "attnviz.TextView(ed)", "attnviz.AttentionView(ed)",
               "attnviz.DirectAttributionView(ed)", "from IPython.display import display\n"
                                                    "display(attnviz.HeadMathView(ed))\n1"]
SAVED_RUN = """
import json, sys
import nbclient, nbformat
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(c) for c in json.loads(sys.argv[1])]
nbclient.NotebookClient(nb, kernel_name="python3", timeout=300).execute()
outputs = [[[o.output_type, sorted(o.get("data", {})), o.get("text", "")] for o in c.outputs] for c in nb.cells]
print(json.dumps(outputs))
"""


def test_widgets7_outputs_carry_the_static_picture(tmp_path):
    """ipywidgets 7 displays a widget through ``_ipython_display_``, which IPython prefers to ``_repr_mimebundle_``:
    the views display their own bundle there, so a notebook saved from Colab's stack keeps each view's picture (and
    the output is ``display_data``, the kind Colab attaches anywidget's metadata to)."""
    import json
    import subprocess

    done = subprocess.run([str(VENV_PYTHON), "-c", SAVED_RUN, json.dumps(SAVED_CELLS)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    cells = json.loads(done.stdout.strip().splitlines()[-1])
    assert "ipywidgets 7.7.1" in cells[0][0][2]
    views = [cell[0] for cell in cells[1:]]
    assert [v[0] for v in views] == ["display_data"] * 4
    widget = "application/vnd.jupyter.widget-view+json"
    assert [sorted(set(v[1]) - {"text/plain", widget}) for v in views] == [["text/html"], ["image/png"],
                                                                         ["image/png"], ["image/png"]]
    assert all(widget in v[1] for v in views)

