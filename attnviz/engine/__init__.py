"""The explainer engine: torch only, no widgets, no plotting."""

from .adapters import UnsupportedModelError, supported_model_types
from .capture import AttentionUnavailableError
from .explainer import Explainer, explain
from .explanation import Explanation
from .methods import MethodInfo, methods

__all__ = ["AttentionUnavailableError", "Explainer", "Explanation", "MethodInfo", "UnsupportedModelError",
           "explain", "methods", "supported_model_types"]
