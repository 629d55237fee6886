"""The live model behind an explanation: the kept autograd graph, what methods that re-run the model read, and what a
copy (pickled, deep-copied) keeps instead of the model. ``Explanation._live`` checks that the model is there and
unchanged since the capture (``guard.fingerprint``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .capture import ForwardCapture, GradientCapture, gradients_of
from .guard import DetachedExplanationError, ModelChangedError
from .recompute import block_hooks
from .targets import Key, Target, Targets


class Graph:
    """A batch's forward pass kept alive, so another target costs one backward and no forward."""

    def __init__(self, forward: ForwardCapture,
                 replay: tuple[Callable[[], contextlib.AbstractContextManager], Sequence[nn.Module]] | None = None):
        """replay: when the graph recomputes its blocks, the context a backward runs in (the explainer's
        ``prepared``: eval mode and eager attention, as in the forward) and the blocks; None: the graph keeps its
        activations."""
        self.forward = forward
        self.replay = replay
        self.hooks = block_hooks(replay[1]) if replay is not None else None

    def gradients(self, index: int, target: Target, attention: bool = True) -> GradientCapture:
        """One more backward of input ``index``'s score (attention=False: no attention gradients). A recomputing
        graph replays its blocks: refused when a hook was added to or removed from them since the capture (the
        replay would run another function than the recorded forward)."""
        with self.replay[0]() if self.replay is not None else contextlib.nullcontext():
            if self.replay is not None and block_hooks(self.replay[1]) != self.hooks:
                raise ModelChangedError(
                    "a hook was added to or removed from the model's blocks since this explanation was captured; "
                    "its blocks are recomputed in each backward (explain(recompute=...)), so another target would "
                    "run them with the hook. Explain again, or pass recompute=False to keep the activations"
                )
            with torch.enable_grad():  # methods run under no_grad; the kept graph needs grad mode to be read
                score = self.forward.score(index, target)
            return gradients_of(score, self.forward, retain_graph=True, attention=attention)


class Detached:
    """What a copied (pickled, deep-copied) explanation keeps of its explainer: the labels, not the model."""

    def __init__(self, explainer: Any, known: list[Key]):
        self.label_names = list(explainer.label_names)
        self.multi_label = bool(explainer.multi_label)
        self.modality = str(explainer.modality)
        self.task = str(getattr(explainer, "task", "classification"))
        self.causal = bool(getattr(explainer, "causal", False))
        self.targets: Targets = explainer.targets.detached(known)

    def describe_target(self, target: Key) -> str:
        return self.targets.describe(target)

    def resolve_target(self, target: Any, predicted: int) -> Key:
        key = self.targets.check(target)
        return predicted if key is None else key

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise DetachedExplanationError(
            "this explanation is a copy (pickled or deep-copied): it keeps the maps already computed, and a new "
            "target or a method that re-runs the model needs the live model: explain again"
        )


class ModelContext:
    """What methods that re-run the model need (integrated gradients, LRP). Reading the model checks that it is
    live and unchanged since the capture."""

    def __init__(self, explanation: Any):
        self._explanation = explanation
        self.model_inputs = explanation.model_inputs
        self.sample = explanation.sample
        self.diagnostics = explanation.diagnostics
        self.warned = explanation.warned  # what was warned about once (method, target, options)

    @property
    def model(self):
        return self._explanation._live().model

    @property
    def adapter(self):
        return self._explanation._live().adapter

    @property
    def prepared(self):
        return self._explanation._live().prepared

    @property
    def pad_token_id(self) -> int:
        """The baseline token of integrated gradients: [PAD], or a decoder tokenizer's end-of-text when it has none
        (GPT-2), else id 0."""
        tokenizer = self._explanation._live().processor
        pad = getattr(tokenizer, "pad_token_id", None)
        return pad if pad is not None else (getattr(tokenizer, "eos_token_id", None) or 0)


__all__ = ["Detached", "Graph", "ModelContext"]
