"""The names Python and the front end must agree on, read from the JS sources (no browser, no build).

Each pair is a Python list and an ``export const NAME = [...]`` array in ``js/src``; the arrays are parsed here
(string literals and ``...OTHER`` spreads of another array of the same file), so a name added on one side only fails
this test. Rules:

* colour-scale modes: ``attnviz.widgets.base.COLOR_SCALES`` == ``colormap.js SCALES``, "auto" included on both sides
  (it is a mode both sides resolve);
* colormaps: ``ExplainedView.COLORMAPS`` == ``("auto", *colormap.js NAMES)``: "auto" is a trait value only (the
  browser picks a map per method), so JS keeps it out of its lookup tables and its picker adds it in front
  (``controls.js``: ``["auto", ...NAMES]``, checked below);
* head-type scores: ``attnviz.engine.head_scores.SCORES`` == ``model_grid.js HEAD_SCORES`` (the colour-by picker);
* the two models' colours: ``attnviz.widgets.flow.MODEL_COLORS`` == ``flow_layout.js MODEL_COLORS``.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

JS_SRC = Path(__file__).resolve().parents[1] / "js" / "src"

pytestmark = pytest.mark.skipif(not JS_SRC.is_dir(), reason="js/src is not here (an installed package)")

_ARRAY = re.compile(r"export\s+const\s+([A-Za-z_$][\w$]*)\s*=\s*\[(.*?)\]\s*;", re.S)
_ITEM = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|\.\.\.([A-Za-z_$][\w$]*))\s*(?:,|$)""")


def js_arrays(name: str) -> dict[str, list[str]]:
    """Every ``export const X = [...]`` of strings in ``js/src/<name>``, spreads of earlier arrays resolved."""
    text = (JS_SRC / name).read_text(encoding="utf-8")
    arrays: dict[str, list[str]] = {}
    for const, body in _ARRAY.findall(text):
        items: list[str] = []
        pos = 0
        body = body.strip()
        while pos < len(body):
            m = _ITEM.match(body, pos)
            if not m or m.end() == pos:
                break  # not an array of strings (numbers, objects): not one of the lists checked here
            double, single, spread = m.groups()
            if spread is not None:
                assert spread in arrays, f"{name}: {const} spreads {spread}, which is not an array defined before it"
                items.extend(arrays[spread])
            else:
                items.append(json.loads(f'"{double if double is not None else single}"'))
            pos = m.end()
        else:
            arrays[const] = items
    return arrays


def js_list(name: str, const: str) -> list[str]:
    arrays = js_arrays(name)
    assert const in arrays, f"js/src/{name} has no `export const {const} = [...]` of strings (found {sorted(arrays)})"
    return arrays[const]


def test_parser_reads_literals_and_spreads(tmp_path, monkeypatch):
    (tmp_path / "x.js").write_text('export const A = ["a", \'b\'];\nexport const B = [...A, "c\\"d"];\n'
                                   "export const N = [1, 2];\nconst HIDDEN = [\"h\"];\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.JS_SRC", tmp_path)
    assert js_arrays("x.js") == {"A": ["a", "b"], "B": ["a", "b", 'c"d']}


def test_color_scales_match():
    from attnviz.widgets.base import COLOR_SCALES

    assert list(COLOR_SCALES) == js_list("colormap.js", "SCALES")


def test_colormaps_match_with_auto_on_the_python_side_only():
    from attnviz.widgets.base import ExplainedView

    js = js_list("colormap.js", "NAMES")
    assert "auto" not in js
    assert js == js_list("colormap.js", "SEQUENTIAL") + js_list("colormap.js", "DIVERGING")
    assert list(ExplainedView.COLORMAPS) == ["auto", *js]
    # the browser's colormap picker offers what the trait accepts: "auto" first, then every map
    controls = (JS_SRC / "controls.js").read_text(encoding="utf-8")
    offered = re.search(r"\[\s*\"auto\"\s*,\s*\.\.\.NAMES\s*\]", controls)
    assert offered, "controls.js no longer offers [\"auto\", ...NAMES]"


def test_head_score_names_match():
    # attnviz.engine re-exports a function named head_scores: import the module itself
    scores = importlib.import_module("attnviz.engine.head_scores").SCORES

    assert list(scores) == js_list("model_grid.js", "HEAD_SCORES")


def test_model_colors_match():
    from attnviz.widgets.flow import MODEL_COLORS

    assert [c.lower() for c in MODEL_COLORS] == [c.lower() for c in js_list("flow_layout.js", "MODEL_COLORS")]
