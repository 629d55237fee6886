"""attnviz: see why a Transformer decided what it decided, inside a notebook.

    import attnviz
    model, tokenizer = attnviz.demo.sentiment()
    e = attnviz.Explainer(model, tokenizer).explain("a gripping, funny film")
    e.map("chefer")          # numpy [N] relevance per token
    e.show()                 # the interactive widget
"""

from .engine import (
    AttentionUnavailableError,
    Explainer,
    Explanation,
    MethodInfo,
    UnsupportedModelError,
    explain,
    methods,
    supported_model_types,
)

__version__ = "0.1.0"

__all__ = ["AttentionUnavailableError", "Explainer", "Explanation", "MethodInfo", "UnsupportedModelError",
           "__version__", "explain", "methods", "supported_model_types"]
