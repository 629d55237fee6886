"""A kernel recompute in flight is visible (issue 11, item 2): while the kernel works on a new class, the stale
picture is dimmed and a note says it shows the previous answer; both go when the answer arrives.
Screenshots: ``test-artifacts/browser/lab-busy-*``.

Race-free (issue 18, item 9): the kernel is held busy by a method registered through the public registry (the
"add a method" recipe of docs/ARCHITECTURE.md) that waits while a file the test controls exists, so the stale
picture stays up exactly until the test lets the kernel answer; every wait is on the page's own state
(``data-pending``, ``data-revision``, the computed opacity at the end of its transition), none is a fixed sleep.
"""

from __future__ import annotations

import json

import pytest

from .jupyter_page import NotebookPage

pytestmark = pytest.mark.browser

CELLS = ['''
import time
from pathlib import Path
from attnviz import Explainer, TextView
from attnviz.engine.methods import MethodInfo, register
from attnviz.engine.methods.common import head_mean
from attnviz.testing import tiny_model

GATE = Path(GATE_PATH)  # the test creates this file to hold the kernel and removes it to let it answer

def gated(trace, heads):
    """The [CLS] row's mean attention, class-specific (kept per class: a new class computes it again), after
    waiting while GATE exists (at most 2 minutes): a kernel that takes as long as the test says, as BERT-base at
    512 tokens takes a while."""
    deadline = time.monotonic() + 120
    while GATE.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return head_mean(trace.capture.A[:, :, trace.position, :], heads)

register(MethodInfo("gated", "attention", "raw attention, held while a file exists", gated, span="own"))
model, tok = tiny_model("bert")
e = Explainer(model, tok).explain("the movie was unbelievably charming")
view = TextView(e, method="gated")
''', "view"]

# The dimmed parts' computed opacity (a CSS transition to 0.35 while data-pending is set), the note, the state.
STYLE = """(root) => ({opacity: getComputedStyle(root.querySelector('.attnviz-token')).opacity,
  note: getComputedStyle(root, '::after').content, pending: root.dataset.pending || ''})"""
OPACITY_IS = "([root, value]) => Math.abs(Number(getComputedStyle(root.querySelector('.attnviz-token')).opacity)" \
             " - value) < 1e-3"


def test_lab_shows_a_busy_stale_picture_until_the_kernel_answers(page, jupyter_server):
    from playwright.sync_api import expect

    nb = NotebookPage(page, jupyter_server, "lab", "lab-busy")
    gate = jupyter_server.root / f"{nb.name}.gate"
    try:
        nb.open([CELLS[0].replace("GATE_PATH", json.dumps(str(gate))), *CELLS[1:]])
        root = nb.widget("text")
        before = nb.attrs(root)
        assert "pending" not in before and root.evaluate(STYLE)["opacity"] == "1"
        target = int(nb.kernel("print(e.target)"))
        handle = root.element_handle()

        gate.touch()  # the kernel's answer to the next change now waits for the test
        root.locator("select.attnviz-class").select_option(index=1 - target)
        expect(root).to_have_attribute("data-pending", "true")
        page.wait_for_function(OPACITY_IS, arg=[handle, 0.35])  # the transition has run its course
        busy, stale = root.evaluate(STYLE), nb.attrs(root)
        nb.shot(root, "busy")
        assert busy["pending"] == "true" and float(busy["opacity"]) == pytest.approx(0.35, abs=1e-3)
        assert "computing in the kernel" in busy["note"] and "previous answer" in busy["note"]
        # still the previous answer: the kernel cannot have answered while the gate exists
        assert stale["revision"] == before["revision"] and stale["checksum"] == before["checksum"]

        gate.unlink()  # let the kernel answer
        answered = nb.wait_kernel_answer(root, before)
        page.wait_for_function(OPACITY_IS, arg=[handle, 1.0])
        done = root.evaluate(STYLE)
        nb.shot(root, "answered")
        assert done["pending"] == "" and done["opacity"] == "1" and "computing" not in done["note"]
        assert int(answered["revision"]) == int(before["revision"]) + 1
        assert nb.kernel("print(view.target, view.error == '')") == f"{1 - target} True"
    finally:
        gate.unlink(missing_ok=True)
