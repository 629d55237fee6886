"""The README's language-model snippet and its "how the model computes" snippet run in order in one namespace, as a
reader types them (the later one reuses ``lm``, ``text`` and ``e`` from the earlier)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_internals_snippets_run_in_order():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    language = [b for b in blocks if "attnviz.demo.induction()" in b]
    internals = [b for b in blocks if "attnviz.DirectAttributionView(e)" in b]
    assert len(language) == 1 and len(internals) == 1
    namespace: dict = {}
    exec("import attnviz\n" + language[0], namespace)  # noqa: S102 - the README's own code
    exec(internals[0], namespace)  # noqa: S102
    result = namespace["result"]
    assert result.complete and result.clean_score > result.corrupted_score
    d = namespace["d"]
    assert abs(d.total - d.logit) < 1e-3
