"""Evaluation of explanations over many inputs: localisation against object masks."""

from .localisation import MaskHitRates, mask_hit_rates, upsample

__all__ = ["MaskHitRates", "mask_hit_rates", "upsample"]
