"""Driving one notebook in JupyterLab or Notebook 7 through ``window.jupyterapp`` (expose_app_in_browser)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
KERNEL_TIMEOUT_MS = 90_000  # kernel start + torch/transformers import + run all, on 2 shared cores

# The notebook panel the page shows (Lab: the current main-area widget; Notebook 7: the only one).
_PANEL = "(() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"\
         " return w && w.content && w.content.widgets && w.sessionContext ? w : null; })()"

_KERNEL_EXEC = """async (code) => {
  const panel = PANEL;
  const kernel = panel.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let out = "";
  future.onIOPub = (msg) => {
    const t = msg.header.msg_type;
    if (t === "stream") out += msg.content.text;
    else if (t === "execute_result") out += msg.content.data["text/plain"] + "\\n";
    else if (t === "error") out += "ERROR " + msg.content.ename + ": " + msg.content.evalue + "\\n";
  };
  await future.done;
  return out;
}""".replace("PANEL", _PANEL)

_RUN_ALL = """async () => {
  const panel = PANEL;
  const ok = await window.jupyterapp.commands.execute("notebook:run-all-cells");
  const cells = panel.content.widgets.map((c) => ({type: c.model.type, count: c.model.executionCount ?? null,
    outputs: c.model.type === "code" ? c.model.outputs.toJSON() : []}));
  return {ok, cells};
}""".replace("PANEL", _PANEL)


class NotebookPage:
    """One test's notebook: written under a unique name, opened in ``ui`` ("lab" or "notebook"), cells run."""

    def __init__(self, page, server, ui: str, name: str):
        assert ui in ("lab", "notebook")
        self.page, self.server, self.ui = page, server, ui
        self.label = name
        self.name = f"{name}-{uuid.uuid4().hex[:8]}.ipynb"
        self.shots: list[Path] = []

    # ------------------------------------------------------------------ notebook
    def write(self, cells: list[str]) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        path = self.server.root / self.name
        nbformat.write(nb, path)
        return path

    def open(self, cells: list[str]) -> list[dict]:
        """Write the notebook, open it, wait for an idle kernel, run all cells; returns the cells' outputs and fails
        on a Python error in any cell."""
        self.write(cells)
        return self.run_all()

    def open_copy(self, notebook: Path) -> list[dict]:
        """``open`` for an existing notebook file (copied under this page's unique name, with all its cells)."""
        (self.server.root / self.name).write_bytes(notebook.read_bytes())
        return self.run_all()

    def run_all(self) -> list[dict]:
        route = f"/lab/tree/{self.name}?reset&" if self.ui == "lab" else f"/notebooks/{self.name}?"
        self.page.goto(f"{self.server.url}{route}token={self.server.token}")
        self.page.wait_for_function(
            f"(() => {{ const p = {_PANEL}; return p && p.context.path.endsWith({json.dumps(self.name)})"
            " && p.sessionContext.session && p.sessionContext.session.kernel"
            " && p.sessionContext.session.kernel.status === 'idle'; })()",
            timeout=KERNEL_TIMEOUT_MS)
        result = self.page.evaluate(_RUN_ALL)
        errors = [o for c in result["cells"] for o in c["outputs"] if o.get("output_type") == "error"]
        assert not errors, "a cell failed:\n" + "\n".join(f"{e['ename']}: {e['evalue']}" for e in errors)
        assert all(c["count"] for c in result["cells"] if c["type"] == "code"), f"cells not all run: {result}"
        self.wait_idle()
        return result["cells"]

    def wait_idle(self) -> None:
        self.page.wait_for_function(f"{_PANEL}.sessionContext.session.kernel.status === 'idle'",
                                    timeout=KERNEL_TIMEOUT_MS)

    def kernel(self, code: str) -> str:
        """Run ``code`` in the notebook's kernel (not in a cell) and return what it printed."""
        out = self.page.evaluate(_KERNEL_EXEC, code)
        assert "ERROR" not in out, out
        return out.strip()

    def kernel_json(self, expr: str):
        return json.loads(self.kernel(f"import json as _j; print(_j.dumps({expr}))"))

    def active_cell(self) -> dict:
        """The notebook's active cell and mode (what notebook shortcuts would change)."""
        return self.page.evaluate(f"(() => {{ const n = {_PANEL}.content; "
                                  "return {index: n.activeCellIndex, mode: n.mode}; })()")

    # ------------------------------------------------------------------ widget
    def widget(self, kind: str, nth: int = 0):
        """The root of a rendered attnviz view of ``kind`` (text, image, attention, compare), once it has drawn."""
        selector = f".attnviz.attnviz-{kind}-view"
        self.page.wait_for_function(
            f"(() => {{ const r = document.querySelectorAll({json.dumps(selector)})[{nth}];"
            " return r && Number(r.dataset.renderCount) > 0 && r.dataset.checksum"
            " && r.dataset.checksum !== 'empty'; })()",
            timeout=KERNEL_TIMEOUT_MS)
        root = self.page.locator(selector).nth(nth)
        root.scroll_into_view_if_needed()
        return root

    @staticmethod
    def attrs(root) -> dict[str, str]:
        return root.evaluate("el => Object.fromEntries([...el.attributes].filter(a => a.name.startsWith('data-'))"
                             ".map(a => [a.name.slice(5), a.value]))")

    def wait_redraw(self, root, before: dict[str, str], timeout: float = 10_000) -> dict[str, str]:
        """Wait until the view has drawn again after ``before`` (browser-side answers)."""
        n = int(before["render-count"])
        root.evaluate(f"(el, n) => new Promise((ok, fail) => {{ const t0 = performance.now();"
                      " (function poll() { if (Number(el.dataset.renderCount) > n) ok(true);"
                      f" else if (performance.now() - t0 > {timeout}) fail(new Error('no redraw'));"
                      " else requestAnimationFrame(poll); })(); })", n)
        return self.attrs(root)

    def wait_kernel_answer(self, root, before: dict[str, str], timeout: float = 30_000) -> dict[str, str]:
        """Wait for the kernel's answer to a kernel-bound change (revision + 1, pending cleared) and its redraw."""
        rev = int(before.get("revision", "0"))
        root.evaluate(f"(el, rev) => new Promise((ok, fail) => {{ const t0 = performance.now();"
                      " (function poll() { if (Number(el.dataset.revision) > rev && !el.dataset.pending) ok(true);"
                      f" else if (performance.now() - t0 > {timeout}) fail(new Error('no kernel answer'));"
                      " else setTimeout(poll, 20); })(); })", rev)
        self.page.evaluate("() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))")
        return self.attrs(root)

    def shot(self, target, state: str) -> Path:
        """Screenshot of ``target`` (a locator, or the page when None) as <ui>-<test>-<nn>-<state>.png."""
        path = ARTIFACTS / f"{self.label}-{len(self.shots) + 1:02d}-{state}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if target is None:
            self.page.screenshot(path=str(path))
        else:
            target.screenshot(path=str(path))
        self.shots.append(path)
        return path


def until(fn, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``fn`` until it returns a truthy value."""
    t0 = time.monotonic()
    while True:
        value = fn()
        if value or time.monotonic() - t0 > timeout:
            return value
        time.sleep(interval)
