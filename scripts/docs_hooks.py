"""mkdocs hooks for attnviz's documentation site (mkdocs.yml names this file).

- The API reference is generated from the package's public names (``__all__`` of attnviz, attnviz.evaluate and
  attnviz.demo; attnviz.testing's public functions): a new public name appears without editing a page, and the
  build fails when a public name, or a public method or property of a public class, has no docstring.
- The tours are docs/tours/*.ipynb: docs/tours is a link to notebooks/ (committed executed by
  scripts/execute_tours.py).
- Nothing is fetched when a page is read: the notebook pages' MathJax script (a CDN address in mkdocs-jupyter's
  template) is removed, and pages with bokeh plots load BokehJS from files copied out of the installed bokeh package.
"""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

BOKEH_FILES = ("bokeh.min.js", "bokeh-gl.min.js", "bokeh-widgets.min.js", "bokeh-tables.min.js",
               "bokeh-mathjax.min.js")
BOKEH_DEST = "assets/bokeh"

# the views get a page of their own; the package's submodules have their own pages
VIEWS = ("TextView", "ImageView", "AttentionView", "CompareView", "FlowView", "LogitLensView",
         "DirectAttributionView", "HeadMathView", "PatchingView", "head_view", "model_view")
MODULES = ("demo", "evaluate", "testing", "__version__")


def public_names() -> dict[str, list[tuple[str, Any]]]:
    """Each API page's public names and objects, in the order of the package's ``__all__``."""
    import attnviz
    import attnviz.demo
    import attnviz.evaluate
    import attnviz.testing

    top = [n for n in attnviz.__all__ if n not in MODULES]
    testing = [n for n, obj in vars(attnviz.testing).items()
               if not n.startswith("_") and inspect.isfunction(obj) and obj.__module__ == "attnviz.testing"]
    return {
        "attnviz": [(n, getattr(attnviz, n)) for n in top if n not in VIEWS],
        "views": [(n, getattr(attnviz, n)) for n in VIEWS],
        "evaluate": [(n, getattr(attnviz.evaluate, n)) for n in attnviz.evaluate.__all__],
        "demo": [(n, getattr(attnviz.demo, n)) for n in attnviz.demo.__all__],
        "testing": [(n, getattr(attnviz.testing, n)) for n in testing],
    }


PAGES = {
    "attnviz": ("attnviz", "The package's top level: the explainer, an explanation, the methods, comparison, "
                "patching and options. `import attnviz` and use these names."),
    "views": ("Views", "The notebook widgets (anywidget). Each one reads an explanation and draws; none computes "
              "relevance. Every view's display data also carries a static picture for front ends without a kernel."),
    "evaluate": ("attnviz.evaluate", "Is an explanation faithful? Does attention agree with gradients? The "
                 "evaluation protocols of the papers attnviz follows (needs the `evaluate` extra)."),
    "demo": ("attnviz.demo", "The demo models and samples that ship inside the package, and what a notebook checks "
             "in its first cell."),
    "testing": ("attnviz.testing", "Tiny seeded random models of every supported architecture, for tests and "
                "examples."),
}


def where(name: str, obj: Any, package: str) -> str:
    """The dotted path mkdocstrings reads ``obj`` from: where it is defined (lazy names of attnviz resolve to their
    module), or the package itself for data such as ``attnviz.evaluate.PRESETS``."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if (inspect.isclass(obj) or inspect.isfunction(obj)) and module and qualname:
        return f"{module}.{qualname}"
    return f"{package}.{name}"


def page_markdown(page: str, names: list[tuple[str, Any]]) -> str:
    title, intro = PAGES[page]
    package = {"attnviz": "attnviz", "views": "attnviz"}.get(page, f"attnviz.{page}")
    lines = [f"# {title}", "", intro, ""]
    for name, obj in names:
        lines += [f"::: {where(name, obj, package)}", "    options:", f"      heading: {name}", ""]
    return "\n".join(lines)


def missing_docstrings(pages: dict[str, list[tuple[str, Any]]]) -> list[str]:
    """Public functions and classes without a docstring, and public methods and properties a public class defines
    itself without one."""
    missing = []
    for names in pages.values():
        for name, obj in names:
            if not (inspect.isclass(obj) or callable(obj)):
                continue  # data (PRESETS, WORDS, ...): documented where the page introduces it
            if not (obj.__doc__ or "").strip():
                missing.append(name)
            if inspect.isclass(obj):
                for member, value in vars(obj).items():
                    if member.startswith("_"):
                        continue
                    target = value.fget if isinstance(value, property) else value
                    if isinstance(target, (staticmethod, classmethod)):
                        target = target.__func__
                    if inspect.isfunction(target) and not (target.__doc__ or "").strip():
                        missing.append(f"{name}.{member}")
    return missing


def on_config(config: Any) -> Any:
    missing = missing_docstrings(public_names())
    if missing:
        raise PluginError("public names without a docstring (the API reference needs one each): "
                          + ", ".join(missing))
    return config


@event_priority(100)  # before the plugins read the files
def on_files(files: Files, config: Any) -> Files:
    for page, names in public_names().items():
        files.append(File.generated(config, f"api/{page}.md", content=page_markdown(page, names)))
    return files


# nbconvert's MathJax loader: a CDN address, or (mkdocs-jupyter's default) an empty src that reloads the page
MATHJAX = re.compile(r"<script[^>]*src=\"(https?://[^\"]*mathjax[^\"]*)?\"[^>]*>\s*</script>", re.IGNORECASE)
BOKEH_EMBED = "Bokeh.embed.embed_items_notebook"


def on_post_page(output: str, page: Any, config: Any) -> str:
    output = MATHJAX.sub("", output)
    if BOKEH_EMBED in output:
        up = "../" * page.url.count("/")
        scripts = "".join(f'<script src="{up}{BOKEH_DEST}/{name}"></script>' for name in BOKEH_FILES)
        output = output.replace("</head>", scripts + "</head>", 1)
    return output


def on_post_build(config: Any) -> None:
    bokeh = Path(importlib.import_module("bokeh").__file__).parent / "server" / "static" / "js"
    dest = Path(config["site_dir"]) / BOKEH_DEST
    dest.mkdir(parents=True, exist_ok=True)
    for name in BOKEH_FILES:
        shutil.copy(bokeh / name, dest / name)
