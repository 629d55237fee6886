"""A kernel recompute in flight is visible (issue 11, item 2): while the kernel works on a new class, the stale
picture is dimmed and a note says it shows the previous answer; both go when the answer arrives.
Screenshots: ``test-artifacts/browser/lab-busy-*``."""

from __future__ import annotations

import pytest

from .jupyter_page import NotebookPage

pytestmark = pytest.mark.browser

CELLS = ['''
import time
from attnviz import Explainer, TextView
from attnviz.testing import tiny_model
model, tok = tiny_model("bert")
e = Explainer(model, tok).explain("the movie was unbelievably charming")
view = TextView(e)
slow = view._refresh
def _slow_refresh():  # a kernel that takes a while to answer, as BERT-base does at 512 tokens
    time.sleep(2.5)
    slow()
view._refresh = _slow_refresh
''', "view"]

STYLE = """(root) => ({opacity: getComputedStyle(root.querySelector('.attnviz-token')).opacity,
  note: getComputedStyle(root, '::after').content, pending: root.dataset.pending || ''})"""


def test_lab_shows_a_busy_stale_picture_until_the_kernel_answers(page, jupyter_server):
    nb = NotebookPage(page, jupyter_server, "lab", "lab-busy")
    nb.open(CELLS)
    root = nb.widget("text")
    before = nb.attrs(root)
    assert root.evaluate(STYLE)["opacity"] == "1"
    picker = root.locator("select.attnviz-class")
    picker.select_option(index=1 - int(nb.kernel("print(e.target)")))
    page.wait_for_timeout(400)  # the transition
    busy = root.evaluate(STYLE)
    nb.shot(root, "busy")
    assert busy["pending"] == "true" and float(busy["opacity"]) < 0.5 and "computing in the kernel" in busy["note"]
    nb.wait_kernel_answer(root, before)
    page.wait_for_timeout(300)
    done = root.evaluate(STYLE)
    nb.shot(root, "answered")
    assert done["pending"] == "" and done["opacity"] == "1" and "computing" not in done["note"]
