"""``Explainer``: wraps an unmodified Hugging Face model and turns inputs into ``Explanation`` objects."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import torch
from torch import nn

from .adapters import adapter_for
from .capture import capture_forward, capture_gradients, prepared
from .explanation import Explanation, _Graph
from .inputs import Encoded, encode_images, encode_text
from .methods.common import Capture, compute_dtype

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


class Explainer:
    """Explains the predictions of a Hugging Face classifier (BERT, RoBERTa, DistilBERT, ViT, DeiT).

    model: an unmodified ``*ForSequenceClassification`` or ``*ForImageClassification`` model; it is left exactly as
    it was (training flags, attention implementation, hooks, requires_grad, .grad) after every call, also after an
    exception. processor: its fast tokenizer (text) or image processor (vision). device: "auto" uses the device the
    model is on; naming another device is an error (attnviz never moves your model). batch_size: inputs per forward
    when a list is explained.

    Half-precision models run their forward and backward in their own dtype; every method then computes in float32
    (a warning says so once).
    """

    def __init__(self, model: nn.Module, processor: Any, device: str | torch.device = "auto", batch_size: int = 16):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module (a Hugging Face model), got {type(model).__name__}")
        self.model = model
        self.adapter = adapter_for(model)
        self.processor = processor
        self.device = _model_device(model)
        if device != "auto" and torch.device(device) != self.device:
            asked = torch.device(device)
            if not (asked.type == self.device.type and asked.index is None):
                raise ValueError(
                    f"the model is on {self.device} but device={str(asked)!r} was asked: attnviz does not move your "
                    f"model. Move it first (model.to({str(asked)!r})) or pass device='auto'."
                )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.dtype = _model_dtype(model)
        if self.dtype in _LOW_PRECISION:
            warnings.warn(f"the model is {self.dtype}: its forward and backward run in {self.dtype}, and attnviz "
                          "computes every relevance map in float32", stacklevel=2)
        self._check_processor()

    @property
    def modality(self) -> str:
        return self.adapter.modality

    @property
    def label_names(self) -> list[str]:
        config = self.model.config
        id2label = getattr(config, "id2label", None) or {}
        num = getattr(config, "num_labels", len(id2label))
        return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(num)]

    @property
    def multi_label(self) -> bool:
        return getattr(self.model.config, "problem_type", None) == "multi_label_classification"

    def _check_processor(self) -> None:
        if self.modality == "text" and not callable(getattr(self.processor, "convert_ids_to_tokens", None)):
            raise TypeError(f"{type(self.model).__name__} is a text model: pass its tokenizer, "
                            f"got {type(self.processor).__name__}")
        if self.modality == "image" and not hasattr(self.processor, "image_mean"):
            raise TypeError(f"{type(self.model).__name__} is an image model: pass its image processor, "
                            f"got {type(self.processor).__name__}")

    def resolve_target(self, target: int | str | None, predicted: int) -> int:
        """None -> the predicted class; an index; or a label name."""
        names = self.label_names
        if target is None:
            return predicted
        if isinstance(target, str):
            if target in names:
                return names.index(target)
            raise ValueError(f"unknown label {target!r}; the model's labels are {names}")
        if isinstance(target, (int,)) or (isinstance(target, torch.Tensor) and target.numel() == 1):
            index = int(target)
            if not 0 <= index < len(names):
                raise ValueError(f"target {index} is out of range: the model has {len(names)} classes {names}")
            return index
        raise TypeError(f"target must be None, a class index or a label name, got {type(target).__name__}")

    @contextlib.contextmanager
    def prepared(self, eager: bool = True):
        """Eval mode and eager attention (unless eager=False) for the duration of a block (restored afterwards)."""
        with prepared(self.model, eager):
            yield

    def encode(self, inputs: list[Any]) -> Encoded:
        if self.modality == "text":
            return encode_text(self.processor, self.model.config, inputs)
        return encode_images(self.processor, self.model.config, inputs, self.adapter.num_prefix_tokens(self.model))

    def explain(self, inputs: Any, target: int | str | None = None, *, keep_graph: bool | None = None):
        """Capture one forward and one backward (for ``target``) and return an ``Explanation``.

        inputs: a sentence, a (text_a, text_b) pair, an image (PIL, array, or processed tensor), or a list of these
        (then a list of Explanations, captured in batches of ``batch_size``; padding never receives relevance).
        target: None (the predicted class), a class index or a label name; for a list, one value or one per input.
        keep_graph: keep the autograd graph so another target costs one backward and no forward (default: True
        for a single input, False for a list, where another target re-runs the forward for that input).
        """
        single = not isinstance(inputs, list)
        items = [inputs] if single else inputs
        if not items:
            raise ValueError("no inputs to explain: the list is empty")
        targets = target if isinstance(target, list) else [target] * len(items)
        if len(targets) != len(items):
            raise ValueError(f"{len(targets)} targets for {len(items)} inputs")
        keep = single if keep_graph is None else keep_graph
        out: list[Explanation] = []
        for start in range(0, len(items), self.batch_size):
            chunk = items[start:start + self.batch_size]
            out.extend(self._explain_batch(chunk, targets[start:start + self.batch_size], keep))
        return out[0] if single else out

    def _explain_batch(self, items: list[Any], targets: list[Any], keep_graph: bool) -> list[Explanation]:
        encoded = self.encode(items)
        model_inputs = {k: v.to(self.device) for k, v in encoded.model_inputs.items()}
        if "pixel_values" in model_inputs:
            model_inputs["pixel_values"] = model_inputs["pixel_values"].to(self.dtype)
        with self.prepared():
            forward = capture_forward(self.model, self.adapter, model_inputs)
        logits = forward.logits.detach().float()
        probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)
        predicted = logits.argmax(-1).tolist()
        resolved = [self.resolve_target(t, p) for t, p in zip(targets, predicted)]
        grads = capture_gradients(forward, torch.tensor(resolved), retain_graph=keep_graph)
        graph = _Graph(forward) if keep_graph else None
        prefix = self.adapter.num_prefix_tokens(self.model) if self.modality == "image" else 0
        explanations = []
        for i, sample in enumerate(encoded.samples):
            n = sample.length
            capture = _slice_capture(forward, i, n, prefix)
            sample_inputs = {k: v[i:i + 1, :n] if v.dim() == 2 else v[i:i + 1] for k, v in model_inputs.items()}
            explanations.append(Explanation(
                explainer=self, sample=sample, capture=capture, model_inputs=sample_inputs,
                probs=probs[i].cpu().numpy(), predicted=predicted[i], target=resolved[i],
                grads=grads, graph=graph, batch_index=i,
            ))
        return explanations

    def recapture(self, explanation: Explanation, target: int):
        """Forward + backward for one explanation's input and another target (used when the graph was not kept)."""
        with self.prepared():
            forward = capture_forward(self.model, self.adapter, explanation.model_inputs)
        return capture_gradients(forward, torch.tensor([target]), retain_graph=False)


def _slice_capture(forward, i: int, n: int, prefix: int) -> Capture:
    """One input's tensors from a padded batch, in the compute dtype, detached. Values become per-head [B, H, N, Dh]."""
    A = compute_dtype(torch.stack([a[i, :, :n, :n] for a in forward.attentions]).detach())
    H = A.shape[1]
    V = compute_dtype(torch.stack([v[i, :n] for v in forward.values]).detach())  # [B, N, H·Dh]
    V = V.view(V.shape[0], n, H, -1).transpose(1, 2).contiguous()
    hidden = compute_dtype(torch.stack([h[i, :n] for h in forward.hidden]).detach())
    emb = compute_dtype(forward.embeddings[i].detach())
    if prefix:
        emb = torch.cat([emb.new_zeros(prefix, emb.shape[-1]), emb])
    return Capture(A=A, V=V, hidden=hidden, emb=emb[:n], logits=compute_dtype(forward.logits[i].detach()))


def explain(model: nn.Module, processor: Any, inputs: Any, target: int | str | None = None, **kwargs):
    """Shortcut: ``Explainer(model, processor).explain(inputs, target)``."""
    return Explainer(model, processor).explain(inputs, target, **kwargs)


__all__ = ["Explainer", "explain"]
