"""Where the built front end lives (``attnviz/static``, built from js/ by esbuild and shipped in the wheel)."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"


def bundle(name: str) -> Path:
    """The built front end of a view (``attnviz/static/<name>.js``), checked to exist."""
    path = STATIC / f"{name}.js"
    if not path.is_file():
        raise FileNotFoundError(f"attnviz's front end {path} is missing: build it with "
                                "`npm ci && npm run build` in js/ (installed wheels carry it)")
    return path


__all__ = ["STATIC", "bundle"]
