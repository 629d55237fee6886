"""The documentation site's hooks (scripts/docs_hooks.py; the built site is checked in Chromium by
tests/browser/test_docs_site.py): every public name has a docstring and a place in the API reference, and a
name without one is caught."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs")
_spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)


def test_every_public_name_has_a_docstring():
    assert hooks.missing_docstrings(hooks.public_names()) == []


def test_an_undocumented_name_method_or_property_is_caught():
    class Documented:
        """Documented."""

        def method(self):
            pass

        @property
        def size(self):
            return 1

        def _private(self):
            pass

    def bare():
        pass

    missing = hooks.missing_docstrings({"page": [("Documented", Documented), ("bare", bare), ("DATA", {1: 2})]})
    assert missing == ["Documented.method", "Documented.size", "bare"]


def test_each_page_lists_its_names_where_they_are_defined():
    import attnviz
    import attnviz.demo
    import attnviz.evaluate

    pages = hooks.public_names()
    views = hooks.page_markdown("views", pages["views"])
    assert "::: attnviz.widgets.text.TextView" in views  # a lazy name of attnviz, read from its module
    documented = {name for names in pages.values() for name, _ in names}
    expected = set(attnviz.__all__) - set(hooks.MODULES) | set(attnviz.evaluate.__all__) | set(attnviz.demo.__all__)
    assert expected <= documented
    assert "::: attnviz.evaluate.PRESETS" in hooks.page_markdown("evaluate", pages["evaluate"])


def test_the_site_lists_every_tour_and_reads_them_from_notebooks():
    import yaml

    config = (ROOT / "mkdocs.yml").read_text()
    nav = yaml.safe_load(config.replace("!!python", "#"))["nav"]
    tours = next(entry["Tours"] for entry in nav if "Tours" in entry)
    assert tours == [f"tours/{p.name}" for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    link = ROOT / "docs" / "tours"
    assert link.is_symlink() and link.resolve() == (ROOT / "notebooks").resolve()
