"""The README's Python snippets, typed in order into one namespace as a reader would (issue 19 #22): every later
snippet still finds the names it uses (``explainer``, ``tokenizer``, ``lm``, ``text``, ``e``), none rebinds a name a
later one needs to something else. Two edits keep it fast and offline, both printed in the failure message: the
snippet that downloads a hub model is left out (no network in CI), and the evaluation runs on fewer reviews."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FASTER = [("[:50]", "[:3]"), ("texts[:5])", "texts[:1], steps=3)"), ("texts[:10])", "texts[:2])")]


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_snippets_run_in_order(tmp_path, monkeypatch):
    import warnings

    monkeypatch.chdir(tmp_path)  # the snippets save a PDF and an HTML page
    blocks = snippets()
    assert len(blocks) >= 6
    namespace: dict = {}
    ran = []
    for k, block in enumerate(blocks):
        if "from_pretrained(" in block:  # the hub: not reachable here
            continue
        code = block
        for a, b in FASTER:
            code = code.replace(a, b)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # a mismatched tokenizer or an unknown-word text warns
            warnings.filterwarnings("ignore", message=".*(truncated|interrupted|skipped|not conserved).*")
            try:
                exec(compile(code, f"README snippet {k}", "exec"), namespace)  # noqa: S102 - the README's own code
            except Exception as err:  # pragma: no cover - the message says which snippet and what ran
                pytest.fail(f"README snippet {k} failed after snippets {ran}: {type(err).__name__}: {err}\n{code}")
        ran.append(k)
    assert (tmp_path / "chefer.pdf").stat().st_size > 1000 and (tmp_path / "review.html").stat().st_size > 1000
    # the fine-tuning snippet explained with the sentiment tokenizer, not the language model's
    assert namespace["explain_pre"].processor is namespace["tokenizer"]
    assert namespace["tokenizer"] is not namespace["lm_tokenizer"]
    result, d = namespace["result"], namespace["d"]
    assert abs(d.total - d.logit) < 1e-3
    assert len(result.table) > 1  # the faithfulness table of the last snippet (`result` rebound there)


def test_a_mismatched_tokenizer_is_said():
    import warnings

    import attnviz
    from attnviz.testing import tiny_model

    model, _ = attnviz.demo.sentiment()
    _, lm_tokenizer = attnviz.demo.induction()
    with pytest.warns(UserWarning, match="tokenizer has 67 tokens but BertForSequenceClassification embeds 30522"):
        explainer = attnviz.Explainer(model, lm_tokenizer)
    with pytest.warns(UserWarning, match=r"6 of its 6 tokens are the unknown token '<unk>'"):
        explainer.explain("a gripping, funny and warm film")
    bert, _ = tiny_model("bert")
    _, gpt2_tokenizer = tiny_model("gpt2")
    with pytest.raises(ValueError, match="embeds only 155: it does not belong to this model"):
        attnviz.Explainer(bert, gpt2_tokenizer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attnviz.Explainer(*attnviz.demo.sentiment())  # its own tokenizer: no warning
