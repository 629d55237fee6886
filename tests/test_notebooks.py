"""The tour notebooks run top to bottom offline (nbclient), and the widget state they leave is binary.

The kernel starts with a startup file that refuses every connection to a non-loopback address and with
HF_HUB_OFFLINE=1, so a notebook that reaches for the network fails here, as it would in an air-gapped classroom.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + [ROOT / "docs" / "gallery.ipynb"]
_spec = importlib.util.spec_from_file_location("execute_tours", ROOT / "scripts" / "execute_tours.py")
execute_tours = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute_tours)

pytestmark = pytest.mark.notebook

NO_NETWORK = '''
import ipaddress, socket

_connect = socket.socket.connect

def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    try:
        local = ipaddress.ip_address(socket.gethostbyname(host) if isinstance(host, str) else host).is_loopback
    except (OSError, ValueError):
        local = isinstance(host, str) and host.startswith("/")  # unix sockets
    if not local:
        raise ConnectionRefusedError(f"attnviz tests: network access to {address!r} is refused")
    return _connect(self, address)

socket.socket.connect = _loopback_only
'''


def test_the_tours_exist():
    names = [p.name for p in NOTEBOOKS]
    assert "01_tour_text.ipynb" in names and "02_tour_vision.ipynb" in names


def numeric_lists(value, path=""):
    """Paths of JSON lists longer than 16 of real numbers (tensors must travel as binary buffers). Short integer
    metadata such as the segment id of each token is allowed; any list holding a float is not."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from numeric_lists(v, f"{path}.{k}")
    elif isinstance(value, list):
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value)
        if len(value) > 16 and numbers and any(isinstance(x, float) for x in value):
            yield path
        else:
            for i, v in enumerate(value):
                yield from numeric_lists(v, f"{path}[{i}]")


@pytest.fixture(scope="module")
def offline_kernel_env(tmp_path_factory):
    ipython_dir = tmp_path_factory.mktemp("ipython")
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-no-network.py").write_text(NO_NETWORK)
    saved = {k: os.environ.get(k) for k in ("IPYTHONDIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "MPLBACKEND")}
    os.environ.update(IPYTHONDIR=str(ipython_dir), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_offline_and_sends_binary_widget_state(path, tmp_path, offline_kernel_env):
    work = tmp_path / path.name
    shutil.copy(path, work)
    nb = nbformat.read(work, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}},
                            store_widget_state=True)
    client.execute()
    nbformat.write(nb, work)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    views = [mid for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
             for mid in [o.get("data", {}).get("application/vnd.jupyter.widget-view+json", {}).get("model_id")] if mid]
    assert views, "the tour shows no widget"
    anywidgets = [state[m] for m in views if m in state and "_esm" in state[m].get("state", {})]
    assert anywidgets, "no attnviz widget state was saved"
    for model in anywidgets:
        assert model.get("buffers"), f"widget {model['model_name']} carries no binary buffers"
        bad = list(numeric_lists(model["state"]))
        assert not bad, f"numbers sent as JSON lists at {bad}"
    assert "network access" not in json.dumps([c.get("outputs") for c in nb.cells])
    committed = nbformat.read(path, as_version=4)
    assert execute_tours.fingerprint(execute_tours.normalise(nb)) == execute_tours.fingerprint(committed), (
        f"{path.name}: the committed outputs are stale: run python scripts/execute_tours.py {path.stem}")


def test_the_committed_notebooks_carry_their_outputs_within_budget():
    """Committed executed (issue 21): GitHub, nbviewer and the docs site show the pictures without a kernel. The
    widget state and the views' references to it are not saved (nbconvert would prefer the widget, drawn by a manager
    from a CDN; JupyterLab would say "model not found"), BokehJS is not inlined, and the notebooks stay within the
    stated repository budget."""
    assert sorted(execute_tours.NOTEBOOKS) == sorted(NOTEBOOKS)
    assert execute_tours.unexecuted(NOTEBOOKS) == []
    assert execute_tours.check_sizes(NOTEBOOKS) == []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata, f"{path.name} saves widget state"
        views = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                 if "an interactive attnviz view" in o.get("data", {}).get("text/plain", "")]
        assert views, f"{path.name} shows no view"
        for view in views:  # every view carries its picture (the DirectAttributionView box its grid's)
            assert execute_tours.WIDGET_VIEW not in view.data, "a widget reference without its state"
            name = view.data["text/plain"].split(":")[0]
            assert {"image/png", "text/html"} & set(view.data), f"{path.name}: {name} has no static picture"
        assert not any(execute_tours.BOKEH_LOAD in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                       for o in c.outputs)


def test_a_missing_extra_stops_the_cell_with_the_pip_command_not_a_traceback(tmp_path):
    """What a tour's first cell shows when an extra is missing: one line with the pip command (IPython renders
    ``MissingExtra`` through its ``_render_traceback_``), and the cells below it do not run."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import importlib.util\nimport attnviz\n"
        "importlib.util.find_spec = lambda name, *a: None  # as if no extra were installed\n"
        'attnviz.demo.require("demo", "evaluate")'), nbformat.v4.new_code_cell("print('not reached')")]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=False)
    with pytest.raises(Exception, match="MissingExtra"):
        client.execute()
    error = nb.cells[0].outputs[-1]
    assert error.output_type == "error" and error.ename == "MissingExtra"
    assert error.traceback == [f"MissingExtra: {error.evalue}"]  # one line, no stack
    assert "pip install 'attnviz[demo,evaluate]'" in error.evalue
    assert not nb.cells[1].get("outputs")


def test_the_fingerprint_masks_what_changes_between_runs_and_keeps_the_numbers():
    """Times, paths, ids and a warning's source line change without the notebook changing; a printed figure is
    what the comparison is for."""
    first = "/work/a/attnviz/engine/explanation.py:275: UserWarning: x (took 15 s) 0x7f00aa11 0.892\n"
    second = "/tmp/b/c/attnviz/engine/explanation.py:276: UserWarning: x (took 1.5 minutes) 0x7f00bb22 0.892\n"
    assert execute_tours._stable(first) == execute_tours._stable(second)
    assert execute_tours._stable(first) != execute_tours._stable(first.replace("0.892", "0.893"))
