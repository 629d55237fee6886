"""Is this explanation faithful? Deletion and perturbation protocols of the papers, Jain & Wallace's experiments,
class-specificity and sanity checks, over many inputs, batched on the model's device.

``faithfulness(explainer, inputs, methods, preset)`` reproduces AttCAT's, ERASER's, ferret's, DIG's and Chefer et
al.'s protocols and the localisation test; ``agreement``, ``permutation`` and ``adversarial`` are Jain & Wallace's
three experiments adapted to Transformers; ``class_specificity`` and ``sanity`` the two checks. Every result has
``.table``, ``.per_instance``, ``.plot()`` (bokeh) and ``.figure()`` (matplotlib), and saves to parquet or CSV.
"""

from .checks import class_specificity, sanity
from .faithfulness import faithfulness
from .jain_wallace import adversarial, agreement, permutation
from .localisation import MaskHitRates, average_precision, mask_hit_rates, segmentation_scores, upsample
from .presets import PRESETS
from .results import (
    AdversarialResult,
    AgreementResult,
    ClassSpecificityResult,
    EvaluationResult,
    FaithfulnessResult,
    PermutationResult,
    SanityResult,
)

__all__ = ["PRESETS", "AdversarialResult", "AgreementResult", "ClassSpecificityResult", "EvaluationResult",
           "FaithfulnessResult", "MaskHitRates", "PermutationResult", "SanityResult", "adversarial", "agreement",
           "average_precision", "class_specificity", "faithfulness", "mask_hit_rates", "permutation", "sanity",
           "segmentation_scores", "upsample"]
