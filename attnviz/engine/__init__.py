"""The explainer engine: torch only, no widgets, no plotting."""

from .ablation import AblationResult
from .adapters import UnsupportedModelError, supported_model_types
from .capture import AttentionUnavailableError
from .compare import ComparisonError, ModelComparison, ModelsComparison, attention_to, compare, compare_models
from .explainer import Explainer, explain
from .explanation import Explanation
from .head_scores import head_scores
from .internals import DirectAttribution, HeadMath, InternalsError, PatchingResult, patch
from .methods import MethodInfo, methods

__all__ = ["AblationResult", "AttentionUnavailableError", "ComparisonError", "Explainer", "Explanation", "MethodInfo",
           "ModelComparison", "ModelsComparison", "UnsupportedModelError", "attention_to", "compare",
           "compare_models", "explain", "head_scores", "methods", "supported_model_types", "DirectAttribution",
           "HeadMath", "InternalsError", "PatchingResult", "patch"]
