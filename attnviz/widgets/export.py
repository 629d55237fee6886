"""``view.to_html(path)``: one self-contained, offline HTML file of a view.

The page inlines the view's bundled ES module, its stylesheet and its state (traits, with tensor buffers in
base64), and a few lines that stand in for anywidget's model (get/set/on/off/save_changes/send). No require.js, no
widget manager, no CDN: it opens from disk in an air-gapped classroom. A Content-Security-Policy forbids every
network request and every inline event handler, so even text that looks like markup can never run.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
from typing import Any

from .assets import STATIC

# Traits the page does not need: anywidget/ipywidgets bookkeeping and the module source (inlined separately).
_SKIP = {"_esm", "_css", "_anywidget_id", "layout", "tabbable", "tooltip", "_dom_classes", "comm", "keys", "log"}

_LOADER = """
const read = (id) => JSON.parse(document.getElementById(id).textContent);
function restore(x) {
  if (Array.isArray(x)) return x.map(restore);
  if (x && typeof x === "object") {
    if (typeof x.__b64__ === "string") {
      const bin = atob(x.__b64__);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return new DataView(bytes.buffer);
    }
    const out = {};
    for (const k of Object.keys(x)) out[k] = restore(x[k]);
    return out;
  }
  return x;
}
const values = restore(read("attnviz-state"));
const handlers = new Map();
const model = {
  get: (k) => values[k],
  set: (k, v) => {
    const old = values[k];
    values[k] = v;
    if (old !== v) for (const fn of [...(handlers.get("change:" + k) || [])]) fn();
  },
  on: (e, fn) => handlers.set(e, [...(handlers.get(e) || []), fn]),
  off: (e, fn) => handlers.set(e, (handlers.get(e) || []).filter((f) => f !== fn)),
  save_changes: () => {},
  send: () => {},
};
const url = URL.createObjectURL(new Blob([read("attnviz-code")], { type: "text/javascript" }));
const mod = await import(url);
URL.revokeObjectURL(url);
const root = document.getElementById("attnviz-root");
mod.default.render({ model, el: root });
root.setAttribute("data-ready", "true");
"""


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__b64__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _script_json(value: Any) -> str:
    """JSON safe inside <script type="application/json">: every '<' escaped, so no '</script>' or '<!--' appears."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace("\u2028", "\\u2028").replace(
        "\u2029", "\\u2029")


def module_source(view: Any) -> str:
    """The view's front end: its built bundle ``attnviz/static/<bundle_name>.js``, or for a view written outside the
    package, the module source its ``_esm`` holds as a string."""
    esm = getattr(view, "_esm", None)
    if isinstance(esm, str) and "export default" in esm:
        return esm
    path = STATIC / f"{getattr(view, 'bundle_name', '')}.js"
    if not path.is_file():
        raise FileNotFoundError(f"{type(view).__name__} has no built front end ({path}) and its _esm is not the "
                                "module's source: set bundle_name to a built bundle, or _esm to the module's code")
    return path.read_text(encoding="utf-8")


def standalone_html(view: Any, title: str | None = None) -> str:
    """The offline page of ``view`` (see the module docstring)."""
    state = {k: v for k, v in view.get_state().items() if k not in _SKIP and not k.startswith(("_model", "_view"))}
    state.update(getattr(view, "_export_state", dict)())  # what the page needs beyond the live state
    state["_static"] = True
    code = module_source(view)
    css = (STATIC / "attnviz.css").read_text(encoding="utf-8")
    nonce = secrets.token_urlsafe(16)
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}' blob:; style-src 'unsafe-inline'; img-src data: blob:; "
           "connect-src 'none'; base-uri 'none'; form-action 'none'")
    page_title = html.escape(title or f"attnviz {type(view).__name__}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{page_title}</title>
<style>
body {{ margin: 16px; background: #fff; }}
{css}
</style>
</head>
<body>
<div id="attnviz-root" data-view-class="{html.escape(type(view).__name__)}"></div>
<script type="application/json" id="attnviz-state">{_script_json(_jsonable(state))}</script>
<script type="application/json" id="attnviz-code">{_script_json(code)}</script>
<script type="module" nonce="{nonce}">{_LOADER}</script>
</body>
</html>
"""
