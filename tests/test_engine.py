"""The engine's contract: inputs in, an Explanation out, the user's model left exactly as it was."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import SENTENCE, TEXT_ARCHS, assert_same_state, model_state, sample_image, sample_input

import attnviz
from attnviz import Explainer
from attnviz.engine.capture import AttentionUnavailableError
from attnviz.testing import tiny_model


def test_repr_names_the_prediction_and_the_target():
    model, proc = tiny_model("vit", num_labels=4)
    e = Explainer(model, proc).explain(sample_image(), target=3)
    top = int(np.argmax(e.probs))
    assert repr(e).endswith(f"predicted 'class_{top}' (p={e.probs[top]:.3f}); target 3 ('class_3')>")
    # multi-label (independent sigmoids): every class at p >= 0.5 is named, most probable first
    model.config.problem_type = "multi_label_classification"
    e = Explainer(model, proc).explain(sample_image(), target=3)
    present = [i for i in np.argsort(-e.probs, kind="stable") if e.probs[i] >= 0.5]
    assert present and 0 < len(present) < 4, e.probs  # this seed: some classes in, some out
    said = ", ".join(f"'class_{i}' (p={e.probs[i]:.3f})" for i in present)
    assert f"labels {said}; target 3 ('class_3')>" in repr(e)


def model_outputs(e):
    """The model's own forward on the explanation's inputs (eager attention, eval mode): logits [C] and the
    attention probabilities [B, H, N, N] as Hugging Face returns them with output_attentions=True."""
    with e.explainer.prepared(), torch.no_grad():
        out = e.explainer.model(**e.model_inputs, output_attentions=True)
    return out.logits[0].double(), torch.stack([a[0] for a in out.attentions]).double()


def hand_rollout(A: torch.Tensor, kept: np.ndarray | None = None) -> np.ndarray:
    """Abnar & Zuidema's rollout written out: Â_b = row-normalised (0.5 mean_h A_b + 0.5 I), the mean over the heads
    kept in block b (kept: bool [B, H], default all), J_l = Â_l ⋯ Â_0, row l = J_l[0] ([CLS]). A [B, H, N, N] ->
    [B, N]."""
    B, H, N, _ = A.shape
    kept = np.ones((B, H), bool) if kept is None else kept
    J, rows = torch.eye(N, dtype=torch.float64), []
    for b in range(B):
        Ahat = 0.5 * A[b, np.flatnonzero(kept[b])].mean(0) + 0.5 * torch.eye(N, dtype=torch.float64)
        J = (Ahat / Ahat.sum(-1, keepdim=True)) @ J
        rows.append(J[0].numpy())
    return np.stack(rows)


def test_explanation_describes_input_and_prediction(explanation, arch):
    e = explanation
    assert e.kind == ("text" if arch in TEXT_ARCHS else "image")
    assert len(e.tokens) == e.num_tokens == e.capture.A.shape[-1]
    assert e.num_layers == 2 and e.num_heads == 2
    logits, _ = model_outputs(e)
    assert e.probs.shape == (2,)  # the model's own softmax over its logits, not only some distribution
    np.testing.assert_allclose(e.probs, torch.softmax(logits, -1).numpy(), atol=1e-6)
    assert e.predicted == int(np.argmax(e.probs)) and e.target == e.predicted
    assert e.label_names == ["class_0", "class_1"]
    assert e.special.dtype == bool and e.special[0]
    if e.kind == "text":  # special = the tokenizer's own special ids ([CLS]/<s>, [SEP]/</s>), nothing else
        ids = e.model_inputs["input_ids"][0].tolist()
        np.testing.assert_array_equal(e.special, np.isin(ids, e.explainer.processor.all_special_ids))
        assert e.special.sum() == 2 and e.special[-1]
    if e.kind == "image":
        assert e.patch_grid == (4, 4)
        assert e.num_prefix_tokens == (2 if arch == "deit" else 1)
        np.testing.assert_array_equal(e.special, np.arange(e.num_tokens) < e.num_prefix_tokens)
        assert e.image.shape == (32, 32, 3) and e.image.dtype == np.uint8
        from PIL import Image  # the image the model saw: the input resized (bilinear) to the model's 32 x 32

        resized = np.asarray(Image.fromarray(sample_image()).resize((32, 32), Image.BILINEAR), dtype=np.int16)
        assert np.abs(e.image.astype(np.int16) - resized).max() <= 1
        p = e.num_prefix_tokens  # the patch tokens in row-major order, the prefix dropped
        np.testing.assert_array_equal(e.patch_map(np.arange(e.num_tokens)), np.arange(p, p + 16).reshape(4, 4))


def test_every_method_gives_finite_layered_maps(explanation):
    e = explanation
    _, A = model_outputs(e)  # the model's own attention, not attnviz's capture
    raw = A[:, :, 0, :].mean(1).numpy()  # each block's [CLS] row, mean over heads
    np.testing.assert_allclose(e.maps("raw"), raw, atol=1e-6)
    np.testing.assert_allclose(e.maps("last_layer"), raw, atol=1e-6)
    np.testing.assert_allclose(e.maps("rollout"), hand_rollout(A), atol=1e-6)
    for name in e.method_names():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = e.maps(name) if name != "integrated_gradients" else e.maps(name, n_steps=8)
        assert m.shape == (e.num_layers, e.num_tokens), name
        assert m.dtype == np.float32 and np.isfinite(m).all(), name
        assert np.allclose(e.map(name, **({"n_steps": 8} if name == "integrated_gradients" else {})), m[-1]), name


def test_methods_registry_lists_descriptions():
    listed = attnviz.methods()
    for name in ("raw", "last_layer", "rollout", "flow", "redistribution", "attn_gradcam", "gae", "attcat",
                 "grad_input", "integrated_gradients"):
        assert name in listed and listed[name].description
    assert listed["attcat"].signed and not listed["rollout"].signed
    assert not listed["rollout"].class_specific and listed["gae"].class_specific
    with pytest.raises(ValueError, match="unknown method 'nope'.*rollout"):
        attnviz.Explainer(*tiny_model("bert")).explain("the cat").map("nope")


@pytest.mark.parametrize("arch", ["bert", "vit"])
def test_model_left_exactly_as_it_was(arch):
    model, proc = tiny_model(arch)
    model.train()
    model.config._attn_implementation = "sdpa"
    for p in list(model.parameters())[:3]:
        p.requires_grad_(False)
    before = model_state(model)
    e = Explainer(model, proc).explain(sample_input(arch))
    e.map("gae", target=1 - e.target)
    e.map("integrated_gradients", n_steps=4)
    assert_same_state(before, model_state(model))


@pytest.mark.parametrize("arch", ["bert", "deit"])
def test_model_left_as_it_was_after_an_exception(arch):
    model, proc = tiny_model(arch)
    model.train()
    before = model_state(model)
    explainer = Explainer(model, proc)
    block = explainer.adapter.get_blocks(model)[-1]

    def explode(*args, **kwargs):
        raise RuntimeError("boom in the last block")

    original = block.forward
    block.forward = explode
    try:
        with pytest.raises(RuntimeError, match="boom"):
            explainer.explain(sample_input(arch))
    finally:
        block.forward = original
    assert_same_state(before, model_state(model))


def test_unsupported_model_names_supported_ones_and_the_adapter_file():
    from transformers import OPTConfig, OPTForCausalLM

    model = OPTForCausalLM(OPTConfig(num_hidden_layers=1, num_attention_heads=2, hidden_size=8, ffn_dim=16,
                                     word_embed_proj_dim=8, vocab_size=20))
    with pytest.raises(attnviz.UnsupportedModelError, match=r"opt.*bert.*deit.*gpt2.*llama.*adapters/"):
        Explainer(model, None)


def test_empty_text_is_a_clear_error():
    explainer = Explainer(*tiny_model("bert"))
    for bad in ("", "   ", ("a film", ""), ("", "")):
        with pytest.raises(ValueError, match="empty"):
            explainer.explain(bad)
    with pytest.raises(ValueError, match="empty"):
        explainer.explain([])


def test_too_long_text_is_truncated_with_a_warning_that_counts():
    model, tok = tiny_model("bert")
    text = " ".join(["the cat sat on the mat"] * 30)
    full = len(tok(text)["input_ids"])
    with pytest.warns(UserWarning, match=rf"{full} tokens.*maximum of 64.*last {full - 64} tokens were dropped"):
        e = Explainer(model, tok).explain(text)
    assert e.num_tokens == 64 and e.tokens[-1] == "[SEP]"


def test_sentence_pair_has_two_segments_and_words():
    model, tok = tiny_model("bert")
    e = Explainer(model, tok).explain(("the movie was charming", "a boring sequel"))
    assert set(e.segments.tolist()) == {0, 1}  # and each token's segment is the tokenizer's token type
    types = tok("the movie was charming", "a boring sequel", return_token_type_ids=True)["token_type_ids"]
    np.testing.assert_array_equal(e.segments, types)
    assert e.tokens.count("[SEP]") == 2
    words, values, segs = e.words(np.ones(e.num_tokens))
    assert words[:5] == ["[CLS]", "the", "movie", "was", "charming"]
    assert "sequel" in words and segs[words.index("sequel")] == 1
    assert values.sum() == pytest.approx(e.num_tokens)


def test_word_aggregation_sums_or_maxes_word_pieces():
    e = Explainer(*tiny_model("bert")).explain("unbelievably charming")
    pieces = [t for t in e.tokens if t not in ("[CLS]", "[SEP]")]
    assert len(pieces) > 2  # the tiny vocabulary splits these words
    values = np.arange(e.num_tokens, dtype=np.float32)
    words, summed, _ = e.words(values, "sum")
    _, maxed, _ = e.words(values, "max")
    assert words == ["[CLS]", "unbelievably", "charming", "[SEP]"]
    assert summed.sum() == pytest.approx(values.sum())
    assert maxed[1] == max(values[j] for j, k in enumerate(e.sample.word_ids) if k == (0, 0))


@pytest.mark.parametrize("arch", ["roberta", "distilbert"])
def test_byte_level_and_distilbert_tokens_are_readable(arch):
    e = Explainer(*tiny_model(arch)).explain("the movie was charming")
    assert not any("Ġ" in t for t in e.tokens)
    words, _, _ = e.words(np.zeros(e.num_tokens))
    assert [w for w in words if w.strip() and w not in ("<s>", "</s>", "[CLS]", "[SEP]")] == \
        ["the", "movie", "was", "charming"]


@pytest.mark.parametrize("arch", ["vit", "deit"])
def test_grayscale_rgba_and_odd_sizes_are_converted(arch):
    from PIL import Image

    explainer = Explainer(*tiny_model(arch))
    rgb = sample_image(1, (50, 70))
    gray = rgb.mean(-1).astype(np.uint8)
    as_rgb = Explainer(*tiny_model(arch)).explain(np.repeat(gray[..., None], 3, -1))
    for image in (gray, Image.fromarray(gray, "L"), gray[..., None], np.repeat(gray[..., None], 3, -1)):
        e = explainer.explain(image)
        assert np.allclose(e.map("rollout"), as_rgb.map("rollout"), atol=1e-6)
    opaque = np.concatenate([rgb, np.full((50, 70, 1), 255, np.uint8)], -1)
    assert np.allclose(explainer.explain(opaque).probs, explainer.explain(rgb).probs, atol=1e-6)
    chw = torch.from_numpy(rgb).permute(2, 0, 1).numpy()
    assert np.allclose(explainer.explain(chw).probs, explainer.explain(rgb).probs, atol=1e-6)
    with pytest.raises(ValueError, match=r"pixel_values of shape \[3, 32, 32\]"):
        explainer.explain(torch.zeros(3, 50, 50))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        explainer.explain(np.full((8, 8, 3), 3.5))


def test_targets_by_index_name_and_clear_errors():
    model, tok = tiny_model("bert", num_labels=3)
    e = Explainer(model, tok).explain(SENTENCE, target="class_2")
    assert e.target == 2
    assert np.allclose(e.map("gae"), e.map("gae", target=2))
    with pytest.raises(ValueError, match="out of range.*3 classes"):
        e.map("gae", target=3)
    with pytest.raises(ValueError, match="unknown label 'positive'"):
        e.map("gae", target="positive")
    with pytest.raises(ValueError, match="out of range"):
        Explainer(model, tok).explain(SENTENCE, target=-1)


def test_device_other_than_the_models_is_a_clear_error():
    model, tok = tiny_model("bert")
    with pytest.raises(ValueError, match="model is on cpu.*device='meta'.*does not move your model"):
        Explainer(model, tok, device="meta")
    assert Explainer(model, tok, device="cpu").device == torch.device("cpu")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_models_warn_and_compute_in_float32(dtype):
    model, tok = tiny_model("bert")
    reference = Explainer(model, tok).explain(SENTENCE)
    half = model.to(dtype)
    with pytest.warns(UserWarning, match="float32"):
        explainer = Explainer(half, tok)
    e = explainer.explain(SENTENCE)
    assert e.capture.A.dtype == torch.float32
    assert next(half.parameters()).dtype == dtype  # not converted for good
    for name in ("rollout", "gae", "attcat"):
        ref = reference.map(name)
        assert np.abs(e.map(name) - ref).max() <= 0.05 * np.abs(ref).max() + 1e-3, name


def test_model_without_eager_attention_is_a_clear_error():
    from transformers import BertForSequenceClassification

    class NoAttentionBert(BertForSequenceClassification):
        def forward(self, *args, **kwargs):
            kwargs["output_attentions"] = False
            return super().forward(*args, **kwargs)

    model, tok = tiny_model("bert")
    broken = NoAttentionBert(model.config)
    hooks_before = sum(len(m._forward_hooks) for m in broken.modules())
    with pytest.raises(AttentionUnavailableError, match="no attention probabilities"):
        Explainer(broken, tok).explain(SENTENCE)
    assert sum(len(m._forward_hooks) for m in broken.modules()) == hooks_before


@pytest.mark.parametrize("arch", ["bert", "roberta", "vit"])
def test_batches_with_padding_equal_single_inputs(arch):
    explainer = Explainer(*tiny_model(arch), batch_size=2)
    if arch == "vit":
        items = [sample_image(s) for s in range(3)]
    else:
        items = ["the cat", "the movie was unbelievably charming and funny", "a boring mess"]
    batch = explainer.explain(items)
    assert isinstance(batch, list) and len(batch) == 3
    for item, e in zip(items, batch):
        one = explainer.explain(item)
        assert e.tokens == one.tokens
        for name in ("rollout", "gae", "attcat", "grad_input", "attn_gradcam"):
            assert np.allclose(e.map(name), one.map(name), atol=1e-5), name
        other = 1 - one.target
        assert np.allclose(e.map("gae", target=other), one.map("gae", target=other), atol=1e-5)


def test_deterministic():
    a = Explainer(*tiny_model("bert")).explain(SENTENCE)
    b = Explainer(*tiny_model("bert")).explain(SENTENCE)
    for name in ("rollout", "gae", "attcat", "redistribution"):
        assert np.array_equal(a.map(name), b.map(name))


def test_another_target_reuses_the_forward_pass():
    model, tok = tiny_model("bert")
    calls = []
    handle = model.register_forward_hook(lambda *a: calls.append(1))
    try:
        e = Explainer(model, tok).explain(SENTENCE)
        assert len(calls) == 1
        e.map("gae", target=1 - e.target)
        assert len(calls) == 1  # one more backward, no forward
        (f,) = Explainer(model, tok).explain([SENTENCE])  # lists do not keep the graph
        f.map("gae", target=1 - f.target)
        assert len(calls) == 3
        assert np.allclose(f.map("gae", target=1 - f.target), e.map("gae", target=1 - e.target), atol=1e-6)
    finally:
        handle.remove()


def test_head_masks_validate_and_apply(explanation):
    e = explanation
    all_heads = e.map("rollout")
    assert np.allclose(e.map("rollout", heads=[True, True]), all_heads)
    assert np.allclose(e.map("rollout", heads=np.ones((2, 2), bool)), all_heads)
    only0 = e.map("rollout", heads=[True, False])
    assert np.allclose(e.map("rollout", heads=[0]), only0)
    _, A = model_outputs(e)  # a row [H] applies to every block: rollout over head 0's attention alone
    np.testing.assert_allclose(all_heads, hand_rollout(A)[-1], atol=1e-6)
    np.testing.assert_allclose(only0, hand_rollout(A, np.array([[True, False]] * 2))[-1], atol=1e-6)
    grid = np.array([[True, True], [False, True]])  # a [B, H] grid: block 0 whole, block 1 head 1 alone
    np.testing.assert_allclose(e.map("rollout", heads=grid), hand_rollout(A, grid)[-1], atol=1e-6)
    assert not np.allclose(only0, all_heads)
    with pytest.raises(ValueError, match="shape"):
        e.map("rollout", heads=[True, False, True])
    with pytest.raises(ValueError, match="head indices"):
        e.map("rollout", heads=[5])
    with pytest.raises(ValueError, match="layer must be"):
        e.map("rollout", layer=7)
