"""``Explainer``: wraps an unmodified Hugging Face model and turns inputs into ``Explanation`` objects."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from .adapters import adapter_for, task_of
from .capture import LOW_PRECISION, capture_forward, capture_gradients, model_float_dtype, prepared
from .capture_plan import CapturePlan
from .explanation import Explanation
from .guard import fingerprint, model_lock
from .inputs import Encoded, encode_images, encode_text
from .inputs import _max_length as max_length
from .live import Graph
from .memory import ModelShape, default_budget, plan_batches
from .methods.common import Capture, compute_dtype, kept_blocks
from .progress import progress_bar
from .targets import Key, Target, targets_for


def _model_device(model: nn.Module) -> torch.device:
    """Where the model's inputs go: its first parameter's device, or for a model whose weights accelerate offloads
    (``device_map`` with CPU or disk offload; the weights on "meta" between calls) its hooks' execution device."""
    for p in model.parameters():
        if p.device.type == "meta":
            return _execution_device(model) or p.device
        return p.device
    return torch.device("cpu")


def _execution_device(model: nn.Module) -> torch.device | None:
    """The execution device accelerate's hooks load offloaded weights to (the first module's), or None."""
    for module in model.modules():
        hook = getattr(module, "_hf_hook", None)
        for h in getattr(hook, "hooks", None) or [hook]:
            device = getattr(h, "execution_device", None)
            if device is not None:
                return torch.device(f"cuda:{device}" if isinstance(device, int) else device)
    return None


def _uncompiled(model: nn.Module) -> nn.Module:
    """The module inside a ``torch.compile`` wrapper: compiled graphs return gradients that do not reach the
    captured attention (all exactly zero), so attnviz runs the original module, which shares every parameter."""
    inner = getattr(model, "_orig_mod", None)
    if isinstance(inner, nn.Module) and type(model).__name__ == "OptimizedModule":
        warnings.warn(f"the model is compiled (torch.compile): attnviz explains the uncompiled "
                      f"{type(inner).__name__} inside it (same weights), since compiled graphs hide the attention's "
                      "gradients", stacklevel=3)
        return inner
    return model


def _strict_bool(name: str, value: Any, allow_none: bool = False) -> bool | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_tokenizer(model: nn.Module, processor: Any) -> None:
    """A tokenizer that does not belong to the model explains silently wrong (every word unknown, or ids past the
    embedding): its size against the model's embedding rows is an error when larger and a warning when under half
    (the tokenizer of another model; a model's own is as large, or a little smaller when the embedding is padded)."""
    if not callable(getattr(processor, "convert_ids_to_tokens", None)) or not hasattr(processor, "__len__"):
        return  # an image processor
    embeddings = getattr(model, "get_input_embeddings", lambda: None)()
    rows = getattr(embeddings, "num_embeddings", None)
    if not isinstance(rows, int) or rows <= 0:
        return
    n = len(processor)
    fix = ("load the tokenizer saved with the model (AutoTokenizer.from_pretrained with the model's own name or "
           "folder)")
    if n > rows:
        raise ValueError(f"the tokenizer has {n} tokens but {type(model).__name__} embeds only {rows}: it does not "
                         f"belong to this model (its ids from {rows} on would index past the embedding); {fix}")
    if n < rows // 2:
        warnings.warn(f"the tokenizer has {n} tokens but {type(model).__name__} embeds {rows}: it is probably "
                      f"another model's, and would explain most words as unknown; {fix}", stacklevel=3)


class Explainer:
    """Explains the predictions of a Hugging Face classifier (BERT, RoBERTa, DistilBERT, ViT, DeiT, GPT-2, Llama)
    or of a decoder language model's next token (GPT-2, Llama, Mistral, Qwen2).

    model: an unmodified ``*ForSequenceClassification`` or ``*ForImageClassification`` model, or a decoder's
    ``GPT2LMHeadModel`` / ``*ForCausalLM`` (a ``torch.compile``d one is explained through its original module); it is
    left exactly as it was (training flags, attention implementation, hooks, requires_grad, .grad) after every call,
    also after an exception or from several threads: passes over one model are serialised by a per-model lock.
    processor: its fast tokenizer (text) or image processor (vision). device: "auto" uses the device the model is on;
    naming another device is an error (attnviz never moves your model). batch_size: inputs per forward when a list is
    explained; "auto" (the default) sizes each batch to ``memory_budget`` bytes of kept activations (default: half the
    free GPU memory, or a quarter of the available RAM up to 4 GiB; see ``engine/memory.py``).

    Half-precision (float16/bfloat16) models run their forward and backward in their own dtype and every method
    computes in float32 from those tensors; the LRP methods (chefer, lrp_full, lrp_partial) run their relevance pass
    in float32 on upcast copies of the weights (the model itself untouched), so they agree with the float32 model.
    """

    def __init__(self, model: nn.Module, processor: Any, device: str | torch.device = "auto",
                 batch_size: int | str = "auto", memory_budget: int | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module (a Hugging Face model), got {type(model).__name__}")
        model = _uncompiled(model)
        self.model = model
        self.adapter = adapter_for(model)
        self.task = task_of(model, self.adapter)  # "classification" or "next_token"
        self.processor = processor
        _check_tokenizer(model, processor)
        self.targets = targets_for(model, self.adapter, processor, self.task)  # what a target is, checked once
        self.device = _model_device(model)
        if self.device.type == "meta":
            raise ValueError(f"{type(model).__name__} is on the meta device: its weights were never loaded (e.g. "
                             "from_pretrained(..., device_map=...) under init_empty_weights). Load real weights "
                             "before explaining it.")
        if device != "auto" and torch.device(device) != self.device:
            asked = torch.device(device)
            if not (asked.type == self.device.type and asked.index is None):
                raise ValueError(
                    f"the model is on {self.device} but device={str(asked)!r} was asked: attnviz does not move your "
                    f"model. Move it first (model.to({str(asked)!r})) or pass device='auto'."
                )
        if batch_size != "auto" and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                     or batch_size < 1):
            raise ValueError(f"batch_size must be 'auto' or an integer >= 1, got {batch_size!r}")
        if memory_budget is not None and (not isinstance(memory_budget, (int, np.integer)) or memory_budget <= 0):
            raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}")
        self.batch_size = batch_size if batch_size == "auto" else int(batch_size)
        self.memory_budget = memory_budget
        self.dtype = model_float_dtype(model)
        if self.dtype in LOW_PRECISION:
            warnings.warn(f"the model is {self.dtype}: its forward and backward run in {self.dtype}, so attention "
                          f"and gradient maps carry {self.dtype}'s precision (about 3 significant digits); the LRP "
                          "methods run their relevance pass in float32 on upcast weights", stacklevel=2)
        self._check_processor()

    def __repr__(self) -> str:
        return (f"<Explainer {type(self.model).__name__} ({self.modality}, {self.targets.summary()}) on "
                f"{self.device}, {str(self.dtype).replace('torch.', '')}>")

    @property
    def causal(self) -> bool:
        """A decoder: token i attends to tokens j <= i only."""
        return self.adapter.causal

    @property
    def vocab_size(self) -> int:
        """The size of a language model's vocabulary (the number of next-token logits)."""
        return self.adapter.vocab_size(self.model)

    @property
    def modality(self) -> str:
        """"text" or "image": what the model reads."""
        return self.adapter.modality

    @property
    def label_names(self) -> list[str]:
        """The class names; empty for a language model (its targets are tokens: ``describe_target``)."""
        return self.targets.label_names

    def describe_target(self, target: Key) -> str:
        """A readable target: the class name, or the token text (a pair: "' Mary' vs ' John'")."""
        return self.targets.describe(target)

    def method_names(self) -> list[str]:
        """The registered methods that apply to this model: its modality, and the architecture's rules (Chefer's LRP
        where ``lrp_unsupported`` is empty, AttnLRP on decoders whose rules attnviz has)."""
        from .methods import methods as registry

        no_lrp = bool(self.adapter.lrp_unsupported)
        return [name for name, info in registry().items()
                if self.modality in info.modalities and not (no_lrp and info.family == "lrp")
                and (not info.needs or bool(getattr(self.adapter, info.needs, False)))]

    @property
    def multi_label(self) -> bool:
        """True for a multi-label classifier (independent sigmoids per class, as the demo ViT), else False."""
        return self.adapter.multi_label(self.model)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """The model's output probabilities from its logits [..., C]: softmax over the classes (or the vocabulary),
        or an independent sigmoid per class for a multi-label classifier (``config.problem_type``)."""
        return torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, -1)

    def _check_processor(self) -> None:
        if self.modality == "text" and not callable(getattr(self.processor, "convert_ids_to_tokens", None)):
            raise TypeError(f"{type(self.model).__name__} is a text model: pass its tokenizer, "
                            f"got {type(self.processor).__name__}")
        if self.modality == "image" and not hasattr(self.processor, "image_mean"):
            raise TypeError(f"{type(self.model).__name__} is an image model: pass its image processor, "
                            f"got {type(self.processor).__name__}")

    def check_target(self, target: Any) -> Key | None:
        """Validate a target before any forward pass: None (the predicted class), a class index (Python or numpy
        integer, or a one-element integer tensor) or a label name -> the index, or None. A language model: a token
        (string or id) -> its id, or a contrastive pair -> (id_a, id_b) (``self.targets``, engine/targets.py)."""
        return self.targets.check(target)

    def resolve_target(self, target: Any, predicted: int) -> Key:
        """None -> the prediction ``predicted``; else the checked key (``check_target``)."""
        key = self.targets.check(target)
        return predicted if key is None else key

    @contextlib.contextmanager
    def prepared(self, eager: bool = True):
        """Eval mode and eager attention (unless eager=False) for the duration of a block (restored afterwards)."""
        with prepared(self.model, eager):
            yield

    def intervene(self, intervention: Any = None, **kwargs: Any):
        """A context manager running the model with an intervention on its attention (``engine.intervention``):
        ``with explainer.intervene(zero_heads={5: (3,)}): model(...)``, or pass an ``Intervention``. The model is
        left exactly as it was afterwards, also after an exception."""
        from .intervention import Intervention, intervened

        if intervention is None:
            intervention = Intervention(**kwargs)
        elif kwargs:
            raise TypeError("pass an Intervention or its fields as keyword arguments, not both")
        return intervened(self.model, self.adapter, intervention)

    def forward(self, model_inputs: dict[str, torch.Tensor], intervention: Any = None, *,
                grad: bool | None = False, eager: bool = True) -> torch.Tensor:
        """The model's logits on encoded inputs (``explainer.encode(...).model_inputs``, any batch) in one forward
        under ``intervention`` (``engine.intervention.Intervention``: zeroed, replaced or observed heads, replaced or
        detached attention; None for none), with the model left exactly as it was (``intervened``). grad: False (no
        graph), True (a graph), None (the caller's grad mode). eager=False keeps the model's own attention kernel
        (for an intervention that touches no attention: the perturbation curves' embedding swaps). A decoder runs
        without its key-value cache. Every intervened forward of ablation, Jain & Wallace, the perturbation curves,
        the checks and the residual record goes through here. -> logits, as the model returns them ([b, C], or
        [b, N, V] for a language model)."""
        from .capture import cast_inputs
        from .intervention import Intervention, intervened

        extra = {"use_cache": False} if self.adapter.causal else {}
        mode = contextlib.nullcontext() if grad is None else torch.set_grad_enabled(bool(grad))
        with intervened(self.model, self.adapter, intervention or Intervention(), eager=eager), mode:
            return self.model(**cast_inputs(self.model, model_inputs), return_dict=True, **extra).logits

    def ablate(self, heads: Any, mode: str = "zero", reference: Any = None):
        """A context manager running the model with the given heads ablated: ``with explainer.ablate({5: [3]}):
        model(...)``. heads: {block: [heads]}, (block, head) pairs, or a bool mask [B, H] (True = ablated).
        mode="zero" sets their outputs (before W_O) to zero; mode="mean" to their mean output over the tokens of
        ``reference`` (inputs, or ``head_means``' tensor). The model is left exactly as it was afterwards."""
        from .ablation import ablation_intervention

        return self.intervene(ablation_intervention(self, heads, mode, reference)[1])

    def ablation_effect(self, inputs: Any, heads: Any, labels: Any = None, mode: str = "zero",
                        reference: Any = None):
        """Predictions, probabilities and (with ``labels``) the loss with and without the ablated heads, per input
        (an ``AblationResult``); a language model's next-token losses at every position (a ``NextTokenAblation``).
        See ``engine/ablation.py``."""
        from .ablation import ablation_effect

        return ablation_effect(self, inputs, heads, labels, mode, reference)

    def encode(self, inputs: list[Any]) -> Encoded:
        """Tokenise texts (or preprocess images) into the model's inputs, padded into one batch, with each input's
        tokens, segments and special-token mask; too long a text or an odd image is a clear error."""
        if self.modality == "text":
            return encode_text(self.processor, self.adapter.max_positions(self.model), inputs)
        return encode_images(self.processor, self.adapter.image_geometry(self.model), inputs,
                             self.adapter.num_prefix_tokens(self.model))

    def explain(self, inputs: Any, target: Any = None, *, position: Any = None, keep_graph: bool | None = None,
                progress: bool | None = None, methods: Any = None, attention_dtype: Any = None,
                recompute: bool | None = None):
        """Capture one forward and one backward (for ``target``) and return an ``Explanation``.

        inputs: a sentence, a (text_a, text_b) pair, an image (PIL, array, path, or processed tensor), or a list of
        these (then a list of Explanations, captured in batches; padding never receives relevance). A 4-D image
        tensor [b, 3, S, S] is a batch: one Explanation per image (a list when b > 1).
        target: None (the predicted class), a class index or a label name; for a list, one value or one per input.
        A language model: None (the predicted next token), a token string (" Mary", one token) or id, or a pair
        (" Mary", " John") for the logit difference y_Mary − y_John.
        position: a language model's explained position (default: the last token, so the prediction is the token
        after the text; negative counts from the end); for a list, one value or one per input.
        keep_graph: keep the autograd graph so another target costs one backward and no forward (default: True
        for a single input, False for a list, where another target re-runs the forward for that input). A kept
        graph holds the activations of the whole batch it came from (about 1.5 GiB for BERT-base at 512 tokens).
        progress: a progress bar over batches (default: when there is more than one batch). Ctrl-C (or the
        notebook's interrupt) between batches returns the explanations captured so far, with a warning.
        methods: the methods you will read (e.g. ["rollout", "attcat"]) for a lean capture that keeps only what they
        read (``engine/capture_plan.py``): no backward for attention-only methods, no attention gradients for
        attcat; any other method still works later, at the cost of the backward it needs then. Default None: the
        full capture. Without a gradient to take, keep_graph defaults to False (no graph is built at all).
        attention_dtype: how the attention is stored ("float16", "bfloat16", "float32"; default: float32, the
        model's dtype for a half-precision model, float16 for methods=["raw"]); methods read it in float32.
        recompute: keep each block's inputs and run the block again in the backward, instead of keeping its
        activations (one more forward for a fraction of the memory; the same gradients). Default None: at the
        hidden-state level (methods=["attcat"], ["grad_input"]) from 512 tokens on; never for the full capture.
        """
        self._check_dtype()
        single = not isinstance(inputs, list)
        if position is not None and not isinstance(position, list):
            self.targets.check_positions([position])  # before any work
        items = [inputs] if single else list(inputs)
        if not items:
            raise ValueError("no inputs to explain: the list is empty")
        items, split = self._split_batch_tensors(items)
        single = single and not split
        plan = CapturePlan.choose(methods, attention_dtype, self.dtype,
                                  _strict_bool("recompute", recompute, allow_none=True))
        keep = (single and plan.gradients != "none") if keep_graph is None else bool(
            _strict_bool("keep_graph", keep_graph))
        progress = _strict_bool("progress", progress, allow_none=True)
        if isinstance(target, list):
            if len(target) != len(items):
                raise ValueError(f"{len(target)} targets for {len(items)} inputs"
                                 + (" (a 4-D image tensor counts one input per image)" if split else ""))
            targets = [self.check_target(t) for t in target]
        else:
            targets = [self.check_target(target)] * len(items)
        if isinstance(position, list):
            if len(position) != len(items):
                raise ValueError(f"{len(position)} positions for {len(items)} inputs")
            positions = list(position)
            self.targets.check_positions(positions)
        else:
            positions = [position] * len(items)
        sizes = self._batch_sizes(items)
        out: list[Explanation] = []
        bar = progress_bar(len(items), progress if progress is not None else len(sizes) > 1)
        start = 0
        try:
            for size in sizes:
                chunk = items[start:start + size]
                out.extend(self._explain_batch(chunk, targets[start:start + size], keep,
                                               positions[start:start + size], plan))
                start += size
                bar.update(size)
        except KeyboardInterrupt:
            if single or not out:
                raise
            warnings.warn(f"interrupted: returning the {len(out)} explanations captured so far (of {len(items)})",
                          stacklevel=2)
        finally:
            bar.close()
        return out[0] if single else out

    def _check_dtype(self) -> None:
        """A model cast after this Explainer was made (``model.half()``): say so, and run in its new dtype."""
        current = model_float_dtype(self.model)
        if current == self.dtype:
            return
        note = (f"; its forward and backward now run in {current} (about 3 significant digits in attention and "
                "gradient maps; the LRP methods compute in float32 on upcast weights)" if current in LOW_PRECISION
                else "")
        warnings.warn(f"the model is now {current}, not {self.dtype} as when this Explainer was made{note}",
                      stacklevel=3)
        self.dtype = current

    def _split_batch_tensors(self, items: list[Any]) -> tuple[list[Any], bool]:
        """Image tensors [b, 3, S, S] with b > 1 become b inputs (a batch is a batch: every image is explained)."""
        if self.modality != "image":
            return items, False
        out: list[Any] = []
        split = False
        for item in items:
            if isinstance(item, torch.Tensor) and item.dim() == 4:
                if item.shape[0] == 0:
                    raise ValueError("an image tensor of batch size 0: there is nothing to explain")
                split = split or item.shape[0] > 1
                out.extend(item[i:i + 1] for i in range(item.shape[0]))
            else:
                out.append(item)
        return out, split

    def _batch_sizes(self, items: list[Any]) -> list[int]:
        if self.targets.row_found_by_padding and self.adapter.pad_token_id(self.model) is None:
            return [1] * len(items)  # the model finds its last token by the pad id: without one, one input a batch
        if self.batch_size != "auto":
            step = int(self.batch_size)
            return [min(step, len(items) - s) for s in range(0, len(items), step)]
        if len(items) == 1:
            return [1]
        lengths = self._token_counts(items)
        budget = self.memory_budget or default_budget(self.device)
        return plan_batches(lengths, model_shape(self.model, self.adapter, self.dtype), budget)

    def _token_counts(self, items: list[Any]) -> list[int]:
        """Each input's token count after truncation (before padding), for sizing batches."""
        if self.modality == "image":
            size, patch, _ = self.adapter.image_geometry(self.model)
            grid = size // patch
            return [grid * grid + self.adapter.num_prefix_tokens(self.model)] * len(items)
        counts = []
        for item in items:
            parts = item if isinstance(item, tuple) else (item,)
            if not all(isinstance(p, str) for p in parts):
                counts.append(1)  # encode() gives the clear error for this input
                continue
            ids = self.processor(*parts, truncation=True, max_length=max_length(self.processor,
                                                                               self.adapter.max_positions(self.model)))["input_ids"]
            counts.append(len(ids))
        return counts

    def _explain_batch(self, items: list[Any], targets: list[Any], keep_graph: bool,
                       positions: list[Any], plan: CapturePlan) -> list[Explanation]:
        encoded = self.encode(items)
        lengths = [s.length for s in encoded.samples]
        recompute = plan.recomputes(max(lengths))
        where = self.targets.rows(positions, lengths)  # the row each input is explained at
        # kept in the processor's precision; capture_forward casts to the model's dtype
        model_inputs = {k: v.to(self.device) for k, v in encoded.model_inputs.items()}
        with model_lock(self.model):  # the capture and the model's fingerprint belong together
            with self.prepared():  # the backward too: a recomputed block runs its forward again in it
                forward = capture_forward(self.model, self.adapter, model_inputs,
                                          grad=keep_graph or plan.gradients != "none",
                                          logit_rows=where if self.targets.per_position else None,
                                          recompute=recompute)
                logits = self.targets.explained_logits(forward.logits.detach(),
                                                       forward.explained_rows(where)).float()
                probs = self.probabilities(logits)
                predicted = logits.argmax(-1).tolist()
                resolved = [self.targets.make(p if t is None else t, row)
                            for t, p, row in zip(targets, predicted, where)]
                grads = None if plan.gradients == "none" else capture_gradients(
                    forward, resolved, keep_graph, attention=plan.gradients == "attention")
            stamp = fingerprint(self.model)
        graph = Graph(forward, (self.prepared, self.adapter.get_blocks(self.model)) if recompute else None
                      ) if keep_graph else None
        prefix = self.adapter.num_prefix_tokens(self.model) if self.modality == "image" else 0
        finite = torch.isfinite(logits).all(-1).tolist()
        explanations = []
        for i, sample in enumerate(encoded.samples):
            if not finite[i]:
                warnings.warn(f"input {i}: the model's logits hold NaN or inf ({logits[i].tolist()}): its "
                              "probabilities and every map of this explanation are not meaningful", stacklevel=4)
            n = sample.length
            capture = _slice_capture(forward, i, n, prefix, logits[i], self.adapter.num_kv_heads(self.model),
                                     plan.attention_dtype)
            sample_inputs = {k: (v[i:i + 1, :n] if v.dim() == 2 else v[i:i + 1]).clone()
                             for k, v in model_inputs.items()}
            explanations.append(Explanation(
                explainer=self, sample=sample, capture=capture, model_inputs=sample_inputs,
                probs=probs[i].cpu().numpy(), predicted=predicted[i], target=resolved[i],
                grads=grads, graph=graph, batch_index=i, fingerprint=stamp, position=where[i],
                gradients=plan.gradients, recompute=recompute,
            ))
        return explanations

    def recapture(self, explanation: Explanation, target: Target, attention: bool = True):
        """Forward + backward for one explanation's input and another target (used when the graph was not kept);
        attention=False: no attention gradients."""
        with model_lock(self.model):
            with self.prepared():  # the backward too: a recomputed block runs its forward again in it
                forward = capture_forward(self.model, self.adapter, explanation.model_inputs,
                                          logit_rows=[explanation.position] if self.targets.per_position else None,
                                          recompute=explanation.recompute)  # as its capture did
                return capture_gradients(forward, [target], False, attention=attention)


def model_shape(model: nn.Module, adapter: Any, dtype: torch.dtype) -> ModelShape:
    return ModelShape(len(adapter.get_blocks(model)), adapter.num_query_heads(model), adapter.hidden_size(model),
                      dtype)


def _slice_capture(forward, i: int, n: int, prefix: int, logits: torch.Tensor, kv_heads: int | None = None,
                   attention_dtype: torch.dtype | None = None) -> Capture:
    """One input's tensors from a padded batch, in the compute dtype, detached. Values become per-head [B, H, N, Dh]
    (under grouped-query attention each query head h gets its key/value head h // (H / H_kv), as the model's
    ``repeat_kv``). logits: this input's explained logits [C or V] (a language model's at its row); kv_heads: H_kv;
    attention_dtype: the attention's storage (None: the compute dtype)."""
    here = forward.embeddings.device  # a model split over devices (device_map): every block's tensors here
    A = kept_blocks(forward.attentions, i, n, here, attention_dtype)  # no copy beside a kept graph for one input
    H = forward.attentions[0].shape[1]
    V = compute_dtype(torch.stack([v[i, :n].to(here) for v in forward.values]).detach())  # [B, N, H_kv·Dh]
    kv = kv_heads or H
    V = V.view(V.shape[0], n, kv, -1).transpose(1, 2)
    if kv != H:
        V = V.repeat_interleave(H // kv, dim=1)
    V = V.contiguous()
    hidden = compute_dtype(torch.stack([h[i, :n].to(here) for h in forward.hidden]).detach())
    emb = compute_dtype(forward.embeddings[i].detach().to(here))
    if prefix:
        emb = torch.cat([emb.new_zeros(prefix, emb.shape[-1]), emb])
    # clone(): a view would keep the whole padded batch's storage alive for as long as this explanation lives
    return Capture(A=A, V=V, hidden=hidden, emb=emb[:n].clone(), logits=compute_dtype(logits.detach().to(here)).clone())


def explain(model: nn.Module, processor: Any, inputs: Any, target: Any = None, **kwargs):
    """Shortcut: ``Explainer(model, processor).explain(inputs, target)``."""
    return Explainer(model, processor).explain(inputs, target, **kwargs)


__all__ = ["Explainer", "explain"]
