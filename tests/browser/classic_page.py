"""The classic Notebook 6.5 + ipywidgets 7.7.1 stack (issue 21, the stack nearest Google Colab's) for browser tests:
a server started from ``.venv-widgets7/`` (``scripts/widgets7_env.sh``) and one notebook driven through the classic
front end's globals (``Jupyter.notebook``, its kernel and keyboard manager) instead of JupyterLab's
``window.jupyterapp``. The widget helpers (``widget``, ``attrs``, ``wait_redraw``, ``wait_kernel_answer``, ``shot``)
are ``NotebookPage``'s: they only read the views' ``.attnviz[data-view]`` roots. ``Lab3Server``: JupyterLab 3.6 with
ipywidgets 7.7.1 from ``.venv-widgets7/lab3`` (``widgets7_env.sh --lab3``), driven like Lab 4 by ``NotebookPage``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .conftest import ServerProcess
from .jupyter_page import REPO, NotebookPage

VENV = REPO / ".venv-widgets7"
VENV_PYTHON = VENV / "bin" / "python"
LAB3_VENV = VENV / "lab3"  # scripts/widgets7_env.sh --lab3
# kernel start + torch/transformers import + three tiny models + run all, on 2 cores that others share
CLASSIC_TIMEOUT_MS = 240_000


class ClassicServer(ServerProcess):
    """``python -m notebook`` (Notebook 6.5, classic) from the widgets7 venv, with its token and temporary root."""

    venv = VENV
    name = "notebook 6.5 (.venv-widgets7)"

    def __init__(self, base: Path):
        super().__init__(base)
        env = dict(os.environ)
        # JUPYTER_CONFIG_DIR only replaces ~/.jupyter: the venv's etc/jupyter/nbconfig (widgetsnbextension and
        # anywidget enabled with --sys-prefix) stays on the config path. JUPYTER_DATA_DIR keeps ~/.local/share/jupyter
        # (kernels, nbextensions) out; the venv's share/jupyter holds its python3 kernel spec.
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
            path = base / name.lower()
            path.mkdir()
            env[name] = str(path)
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), env.get("PATH", "")])
        env.pop("VIRTUAL_ENV", None)
        env.setdefault("OMP_NUM_THREADS", "1")
        env["MPLBACKEND"] = "agg"
        env["HF_HUB_OFFLINE"] = env["TRANSFORMERS_OFFLINE"] = "1"
        self.base = base
        self.log = base / "server.log"
        self._log_file = open(self.log, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(self.command(), stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.root)

    def command(self) -> list[str]:
        # not --NotebookApp.show_banner=False: Notebook 6.5.7's page.html then throws on load (its DOMContentLoaded
        # handler adds a listener to the banner's #dontShowId button, which that flag leaves out); the banner is
        # hidden with the page's own "don't show anymore" flag instead (hide_news_banner)
        return [str(self.venv / "bin" / "python"), "-m", "notebook", "--no-browser", "--ip=127.0.0.1",
                f"--port={self.port}", f"--NotebookApp.token={self.token}", "--allow-root",
                f"--notebook-dir={self.root}", "--NotebookApp.open_browser=False"]


class Lab3Server(ClassicServer):
    """``python -m jupyterlab`` (JupyterLab 3.6, ipywidgets 7.7.1) from ``.venv-widgets7/lab3`` (``widgets7_env.sh
    --lab3``), its app exposed as ``window.jupyterapp`` for ``NotebookPage(..., "lab", ...)``."""

    venv = LAB3_VENV
    name = "jupyterlab 3.6 (.venv-widgets7/lab3)"

    def command(self) -> list[str]:
        # Lab 3.6 asks about news in a toast that covers the page (as Lab 4 does: conftest.py)
        notification = self.base / "settings" / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        return [str(self.venv / "bin" / "python"), "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                f"--port={self.port}", f"--ServerApp.token={self.token}", "--allow-root",
                f"--ServerApp.root_dir={self.root}", "--ServerApp.open_browser=False",
                "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
                f"--LabApp.user_settings_dir={self.base / 'settings'}"]


def hide_news_banner(context) -> None:
    """Notebook 6.5's "migrate to Notebook 7" banner covers the toolbar unless localStorage says it was dismissed."""
    context.add_init_script("try { localStorage.setItem('showNotebookNews', 'false'); } catch (e) {}")


_NB = "(window.Jupyter && window.Jupyter.notebook)"

_READY = f"""(name) => {{
  const nb = {_NB};
  if (!nb || !nb._fully_loaded || nb.notebook_path !== name) return false;
  const k = nb.kernel;
  const icon = document.querySelector("#kernel_indicator_icon");
  return Boolean(k && k.is_connected() && k.info_reply && k.info_reply.protocol_version && k.widget_manager && icon
                 && icon.classList.contains("kernel_idle_icon"));
}}"""

_IDLE = "(() => { const k = window.Jupyter.notebook.kernel;" \
        " const icon = document.querySelector('#kernel_indicator_icon');" \
        " return k.is_connected() && icon.classList.contains('kernel_idle_icon'); })()"

_ALL_RUN = f"""() => {{
  const cells = {_NB}.get_cells().filter((c) => c.cell_type === "code");
  return cells.every((c) => typeof c.input_prompt_number === "number");
}}"""

_CELLS = f"""() => {_NB}.get_cells().map((c) => ({{type: c.cell_type,
  count: c.cell_type === "code" ? c.input_prompt_number ?? null : null,
  outputs: c.cell_type === "code" ? JSON.parse(JSON.stringify(c.output_area.outputs)) : []}}))"""

# Run code in the kernel, not in a cell (classic Kernel.execute with callbacks): resolves with what it printed once
# both the shell reply and the idle status have come.
_KERNEL_EXEC = """(code) => new Promise((resolve) => {
  const k = window.Jupyter.notebook.kernel;
  let out = "", replied = false, idle = false;
  const done = () => { if (replied && idle) resolve(out); };
  k.execute(code, {
    shell: {reply: () => { replied = true; done(); }},
    iopub: {
      output: (msg) => {
        const t = msg.header.msg_type;
        if (t === "stream") out += msg.content.text;
        else if (t === "execute_result") out += msg.content.data["text/plain"] + "\\n";
        else if (t === "error") out += "ERROR " + msg.content.ename + ": " + msg.content.evalue + "\\n";
      },
      status: (msg) => { if (msg.content.execution_state === "idle") { idle = true; done(); } },
    },
  }, {silent: false, store_history: false});
})"""


class ClassicNotebookPage(NotebookPage):
    """One test's notebook in the classic Notebook 6.5 front end (``/notebooks/<name>``)."""

    def __init__(self, page, server: ClassicServer, name: str):
        # NotebookPage.write's "python3" kernel spec is, in this server, the venv's (scripts/widgets7_env.sh)
        super().__init__(page, server, "notebook", name)

    def run_all(self) -> list[dict]:
        self.page.goto(f"{self.server.url}/notebooks/{self.name}?token={self.server.token}")
        self.page.wait_for_function(_READY, arg=self.name, timeout=CLASSIC_TIMEOUT_MS, polling=100)
        self.page.evaluate(f"() => {_NB}.execute_all_cells()")
        self.page.wait_for_function(_ALL_RUN, timeout=CLASSIC_TIMEOUT_MS, polling=200)
        self.wait_idle()
        cells = self.page.evaluate(_CELLS)
        errors = [o for c in cells for o in c["outputs"] if o.get("output_type") == "error"]
        assert not errors, "a cell failed:\n" + "\n".join(f"{e['ename']}: {e['evalue']}\n" + "\n".join(e["traceback"])
                                                         for e in errors)
        return cells

    def wait_idle(self) -> None:
        self.page.wait_for_function(_IDLE, timeout=CLASSIC_TIMEOUT_MS, polling=100)

    def kernel(self, code: str) -> str:
        out = self.page.evaluate(_KERNEL_EXEC, code)
        assert "ERROR" not in out, out
        return out.strip()

    def active_cell(self) -> dict:
        """The selected cell, the notebook's mode and whether its keyboard shortcuts are live."""
        return self.page.evaluate(f"() => ({{index: {_NB}.get_selected_index(), mode: {_NB}.mode}})")

    def shortcuts_enabled(self) -> bool:
        return self.page.evaluate("() => window.Jupyter.keyboard_manager.enabled")

    def widget(self, kind: str, nth: int = 0):
        """The root of the ``nth`` drawn attnviz view of ``kind`` (its data-view: text, image, attention, compare,
        flow, grid, head-math), once it has drawn something (render count > 0, a checksum that is not "empty")."""
        selector = f".attnviz[data-view={json.dumps(kind)}]"
        self.page.wait_for_function(
            f"(() => {{ const r = document.querySelectorAll({json.dumps(selector)})[{nth}];"
            " return r && Number(r.dataset.renderCount) > 0 && r.dataset.checksum"
            " && r.dataset.checksum !== 'empty'; })()",
            timeout=CLASSIC_TIMEOUT_MS, polling=100)
        root = self.page.locator(selector).nth(nth)
        root.scroll_into_view_if_needed()
        return root

    def output_texts(self, cells: list[dict], index: int) -> str:
        """What code cell ``index`` printed (stream outputs)."""
        return "".join(o.get("text", "") for o in cells[index]["outputs"] if o.get("output_type") == "stream")
