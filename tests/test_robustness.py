"""Engine hardening (issue 12): one test per case that used to give a silently wrong map or an error a user could
not act on. Each test names the case's number in the issue."""

from __future__ import annotations

import copy
import io
import pickle
import threading
import warnings

import numpy as np
import pytest
import torch
from conftest import SENTENCE, assert_same_state, model_state, sample_image

from attnviz import Explainer, TextView
from attnviz.engine.adapters import UnsupportedModelError
from attnviz.engine.capture import DisconnectedGradientError, ForwardCapture, gradients_of
from attnviz.engine.guard import DetachedExplanationError, ModelChangedError
from attnviz.engine.memory import ModelShape, plan_batches
from attnviz.engine.methods import lrp_rules
from attnviz.testing import flow_graph_networkx, tiny_model

SHORT, LONG = "a gripping story", "the movie was unbelievably charming , not boring and the music is lovely"


def image_explainer(arch: str = "vit"):
    model, proc = tiny_model(arch)
    return Explainer(model, proc)


def pixels_of(explainer, image) -> torch.Tensor:
    return explainer.processor(images=image, return_tensors="pt")["pixel_values"]


# ---------------------------------------------------------------------------------------- silently wrong before
def test_01_threads_share_one_model_correctly_and_leave_it_as_it_was():
    model, tok = tiny_model("bert")
    model.train()  # a state the capture changes (eval) and must restore
    before = model_state(model)
    texts = [SENTENCE, SHORT, LONG, "what a waste of talent and time"]
    reference = {t: Explainer(model, tok).explain(t).map("gae") for t in texts}
    explainers = [Explainer(model, tok) for _ in range(2)]  # two explainers, one model: one lock per model
    results: dict[tuple[int, int], np.ndarray] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def work(k: int) -> None:
        try:
            barrier.wait()
            for r in range(6):
                text = texts[(k + r) % len(texts)]
                results[k, r] = explainers[k % 2].explain(text).map("gae")
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (k, r), got in results.items():
        np.testing.assert_allclose(got, reference[texts[(k + r) % len(texts)]], rtol=1e-5, atol=1e-6)
    assert_same_state(before, model_state(model))
    # transformers' own output-capturing flag must be back: the user's own call still returns attentions
    enc = tok(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        out = model.eval()(**enc, output_attentions=True)
    assert out.attentions is not None and len(out.attentions) == 2 and out.attentions[0] is not None


def test_02_compiled_models_are_explained_through_the_original_module():
    model, tok = tiny_model("bert")
    expected = Explainer(model, tok).explain(SENTENCE)
    compiled = torch.compile(model)  # lazy: nothing compiles until it is called, and attnviz never calls it
    with pytest.warns(UserWarning, match="uncompiled"):
        explainer = Explainer(compiled, tok)
    assert explainer.model is model
    e = explainer.explain(SENTENCE)
    for name in ("grad_input", "gae"):
        np.testing.assert_allclose(e.map(name), expected.map(name), rtol=1e-6)
        assert np.abs(e.map(name)).max() > 0


def test_02_a_disconnected_gradient_is_an_error_never_zeros():
    x = torch.randn(3, requires_grad=True)
    unused = torch.randn(3, requires_grad=True)
    forward = ForwardCapture(logits=(x * 2).sum()[None, None], attentions=[x], values=[], hidden=[unused],
                             embeddings=x)
    with pytest.raises(DisconnectedGradientError, match="hidden state 0.*_orig_mod"):
        gradients_of(forward.logits.sum(), forward, retain_graph=False)


def test_03_left_padding_explains_the_tokens_not_the_pads():
    model, tok = tiny_model("bert")
    singles = [Explainer(model, tok).explain(t) for t in (SHORT, LONG)]
    tok.padding_side = "left"
    batch = Explainer(model, tok).explain([SHORT, LONG])
    assert tok.padding_side == "left"  # the user's tokenizer keeps its setting
    for one, got in zip(singles, batch):
        assert got.tokens == one.tokens and "[PAD]" not in got.tokens
        for name in ("rollout", "gae", "grad_input"):
            np.testing.assert_allclose(got.map(name), one.map(name), rtol=1e-4, atol=1e-6)


def test_04_a_batch_tensor_is_a_batch_and_mixed_lists_stay_aligned():
    explainer = image_explainer()
    images = [sample_image(0, (32, 32)), sample_image(1, (32, 32)), sample_image(2, (32, 32))]
    pix = torch.cat([pixels_of(explainer, im) for im in images[:2]])  # [2, 3, S, S]
    singles = [explainer.explain(im) for im in images]
    both = explainer.explain(pix)
    assert isinstance(both, list) and len(both) == 2
    mixed = explainer.explain([pix, images[2]])
    assert len(mixed) == 3
    for got, one in zip([*both, mixed[2]], singles):
        np.testing.assert_allclose(got.map("gae"), one.map("gae"), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mixed[1].map("rollout"), singles[1].map("rollout"), rtol=1e-5)
    with pytest.raises(ValueError, match="2 targets for 3 inputs.*4-D"):
        explainer.explain([pix, images[2]], target=[0, 1])


def test_05_copies_are_snapshots_that_say_they_need_the_live_model():
    model, tok = tiny_model("bert")
    e = Explainer(model, tok).explain(SENTENCE)
    gae = e.map("gae")
    for copied in (copy.deepcopy(e), pickle.loads(pickle.dumps(e))):
        assert not copied.is_live and "copy" in repr(copied)
        np.testing.assert_array_equal(copied.map("gae"), gae)  # the target already captured
        np.testing.assert_array_equal(copied.map("rollout"), e.map("rollout"))  # class-agnostic: from the capture
        with pytest.raises(DetachedExplanationError, match="explain again"):
            copied.map("gae", target=1 - e.target)
        with pytest.raises(DetachedExplanationError, match="live model"):
            copied.map("chefer")  # the LRP pass re-runs the model
    assert e.map("gae", target=1 - e.target).shape == gae.shape  # the original still works


@pytest.mark.parametrize("change", ["in_place", "half", "load_state_dict"])
@pytest.mark.parametrize("keep_graph", [True, False])
def test_06_a_model_changed_after_explain_is_detected(change, keep_graph):
    model, tok = tiny_model("bert")
    e = Explainer(model, tok).explain(SENTENCE, keep_graph=keep_graph)
    kept = e.map("gae")
    if change == "in_place":
        with torch.no_grad():
            next(model.parameters()).add_(0.1)
    elif change == "half":
        model.half()
    else:
        model.load_state_dict({k: v + 0.01 for k, v in model.state_dict().items()})
    np.testing.assert_array_equal(e.map("gae"), kept)  # what was captured stays readable
    with pytest.raises(ModelChangedError, match="changed since this explanation was captured"):
        e.map("gae", target=1 - e.target)
    with pytest.raises(ModelChangedError):
        e.map("lrp_partial")


def test_07_non_finite_logits_are_warned_and_marked():
    model, tok = tiny_model("bert")
    with torch.no_grad():
        model.classifier.bias[0] = float("nan")
    with pytest.warns(UserWarning, match="NaN or inf"):
        e = Explainer(model, tok).explain(SENTENCE)
    assert e.nonfinite and "NaN or inf" in repr(e) and "p=nan" in repr(e)
    view = TextView(e)
    assert "NaN or inf" in view.prediction_warning
    with torch.no_grad():
        model.classifier.bias[0] = -float("inf")  # softmax says p=1.000 for the other class: still marked
    with pytest.warns(UserWarning, match="NaN or inf"):
        e = Explainer(model, tok).explain(SENTENCE)
    assert e.nonfinite and "NaN or inf" in repr(e)
    with torch.no_grad():
        model.classifier.bias[0] = 0.0
        model.classifier.weight[0, 0] = float("nan")  # the logit of class 0 and its gradients are NaN
    with pytest.warns(UserWarning, match="NaN or inf"):
        e = Explainer(model, tok).explain(SENTENCE, target=1)
    with pytest.warns(UserWarning, match="grad_input: .* NaN or inf"):
        e.map("grad_input", target=0)
    model2, tok2 = tiny_model("bert")
    assert not Explainer(model2, tok2).explain(SENTENCE).nonfinite
    assert TextView(Explainer(model2, tok2).explain(SENTENCE)).prediction_warning == ""


# LRP in float32 on upcast weights: equal to the float32 model with the same weights (the rounding of the half
# forward no longer reaches the pass); chefer also reads half-precision gradients: within these fractions of the max.
HALF_TOLERANCE = {"lrp_full": 1e-5, "lrp_partial": 1e-5, "chefer": {torch.float16: 5e-3, torch.bfloat16: 5e-2}}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("arch", ["bert", "vit"])
def test_08_half_precision_lrp_agrees_with_float32(dtype, arch):
    model, proc = tiny_model(arch)
    x = SENTENCE if arch == "bert" else sample_image(0, (32, 32))
    low = model.to(dtype)
    same_weights = copy.deepcopy(low).float()
    before = model_state(low)
    with pytest.warns(UserWarning, match="float32"):
        e = Explainer(low, proc).explain(x)
    ref = Explainer(same_weights, proc).explain(x)
    for name, tol in HALF_TOLERANCE.items():
        rtol = tol[dtype] if isinstance(tol, dict) else tol
        got, want = e.map(name), ref.map(name)
        assert np.abs(got - want).max() <= rtol * np.abs(want).max(), (name, np.abs(got - want).max())
    assert_same_state(before, model_state(low))
    assert all(p.dtype == dtype for p in low.parameters())


def test_09_image_modes_16_bit_float_uint8_tensors_nan_and_empty():
    from PIL import Image

    explainer = image_explainer()
    rgb = sample_image(3, (32, 32))
    gray = rgb[..., 0]
    expected = explainer.explain(gray).image
    as16 = Image.fromarray(gray.astype(np.uint16) * 257)  # the same picture at 16 bits
    assert as16.mode.startswith("I;16")
    np.testing.assert_array_equal(explainer.explain(as16).image, expected)
    buf = io.BytesIO()
    as16.save(buf, format="PNG")  # a 16-bit PNG (opens as I;16 or I)
    np.testing.assert_array_equal(explainer.explain(Image.open(io.BytesIO(buf.getvalue()))).image, expected)
    as_float = Image.fromarray(gray.astype(np.float32) / 255)
    assert as_float.mode == "F"
    np.testing.assert_array_equal(explainer.explain(as_float).image, expected)
    as_uint8_tensor = torch.from_numpy(np.moveaxis(rgb, -1, 0).copy())  # [3, S, S] uint8: an image, not pixel_values
    np.testing.assert_array_equal(explainer.explain(as_uint8_tensor).image, explainer.explain(rgb).image)
    with_nan = rgb.astype(np.float32) / 255
    with_nan[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        explainer.explain(with_nan)
    pix = pixels_of(explainer, rgb)
    pix[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        explainer.explain(pix)
    with pytest.raises(ValueError, match="empty"):
        explainer.explain(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        explainer.explain(Image.new("RGB", (0, 0)))


def test_10_invisible_text_pair_truncation_and_byte_level_tokens():
    model, tok = tiny_model("bert")
    explainer = Explainer(model, tok)
    for text in ("\u200b\u200b", "\x00\x01"):
        with pytest.raises(ValueError, match="no token besides the special ones"):
            explainer.explain(text)
    long_a, long_b = " ".join(["lovely"] * 40), " ".join(["boring"] * 40)
    with pytest.warns(UserWarning, match="of the first text and the last .* of the second text"):
        explainer.explain((long_a, long_b))
    roberta, rtok = tiny_model("roberta")
    e = Explainer(roberta, rtok).explain("so good 😀 film")
    shown = "".join(t for t, s in zip(e.tokens, e.special) if not s)
    assert "😀" in shown and "ð" not in shown and "Ġ" not in shown
    pieces = len(rtok.tokenize(" 😀"))
    assert e.num_tokens == len(rtok("so good 😀 film")["input_ids"])  # boundaries kept: one entry per token
    assert pieces > 1 and shown.replace("…", "") == "so good 😀 film"


def test_11_options_are_strict():
    model, tok = tiny_model("bert")
    explainer = Explainer(model, tok)
    with pytest.raises(TypeError, match="not the bool"):
        explainer.explain(SENTENCE, target=True)
    e = explainer.explain(SENTENCE)
    with pytest.raises(TypeError, match="per_layer must be True or False"):
        e.maps("attcat", per_layer="no")
    with pytest.raises(TypeError, match="has no option 'per_layers'"):
        e.maps("attcat", per_layers=True)
    from attnviz import AttentionView, ImageView

    with pytest.raises(Exception, match="threshold"):
        AttentionView(e, threshold=float("nan"))
    ie = image_explainer().explain(sample_image(0, (32, 32)))
    with pytest.raises(Exception, match="opacity"):
        ImageView(ie, opacity=float("nan"))


# ---------------------------------------------------------------------------------------- errors a user can act on
def test_12_paths_bytes_and_text_given_to_an_image_model(tmp_path):
    from PIL import Image

    explainer = image_explainer()
    rgb = sample_image(4, (32, 32))
    path = tmp_path / "item.png"
    Image.fromarray(rgb).save(path)
    expected = explainer.explain(rgb).image
    np.testing.assert_array_equal(explainer.explain(path).image, expected)
    np.testing.assert_array_equal(explainer.explain(str(path)).image, expected)
    np.testing.assert_array_equal(explainer.explain(path.read_bytes()).image, expected)
    with pytest.raises(FileNotFoundError, match="no such file"):
        explainer.explain(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="not an image file"):
        explainer.explain(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="not an image file"):
        explainer.explain(b"\x00\x01 not an image")
    with pytest.raises(TypeError, match="image model, and got text"):
        explainer.explain("a photo of a cat")


def test_13_a_second_string_that_is_not_a_label_says_pairs_are_tuples_before_any_forward():
    model, tok = tiny_model("bert")
    calls = []
    handle = model.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        with pytest.raises(ValueError, match=r"sentence pair, pass it as one tuple"):
            Explainer(model, tok).explain("a", "b")
    finally:
        handle.remove()
    assert calls == []


@pytest.mark.parametrize("head", ["BertForMaskedLM", "BertForTokenClassification", "BertForQuestionAnswering",
                                  "BertForMultipleChoice", "BertModel"])
def test_14_unsupported_heads_and_meta_models_are_named(head):
    import transformers as tf

    model, tok = tiny_model("bert")
    other = getattr(tf, head)(model.config)
    with pytest.raises(UnsupportedModelError, match="ForSequenceClassification.*ForImageClassification"):
        Explainer(other, tok)


def test_14_a_model_on_the_meta_device_says_so():
    model, tok = tiny_model("bert")
    with pytest.raises(ValueError, match="meta device"):
        Explainer(model.to("meta"), tok)


def test_15_entry_checks_numpy_targets_layers_heads_rules_and_batch_indices():
    model, tok = tiny_model("bert")
    explainer = Explainer(model, tok)
    e = explainer.explain(SENTENCE, target=np.int64(1))
    assert e.target == 1 and e.map("gae", target=np.int32(0)).shape == (e.num_tokens,)
    with pytest.raises(TypeError, match="layer must be an integer"):
        e.map("rollout", layer=1.5)
    with pytest.raises(TypeError, match="layer must be an integer"):
        e.map("rollout", layer="1")
    assert e.map("rollout", layer=np.int64(0)).shape == (e.num_tokens,)
    with pytest.raises(ValueError, match="ragged"):
        e.map("gae", heads=[[True, False], [True]])
    with pytest.raises(TypeError, match="option rule must be one value"):
        e.map("redistribution", rule=["i"])
    with pytest.raises(ValueError, match="rule must be one of"):
        e.map("redistribution", rule="v")
    with pytest.raises(ValueError, match="input 1 of the batch: the text is empty"):
        explainer.explain([SENTENCE, "  ", SHORT])


# ---------------------------------------------------------------------------------------- memory
def storage_bytes(t: torch.Tensor) -> int:
    return t.untyped_storage().nbytes()


def test_16_a_short_text_in_a_batch_keeps_only_its_own_tensors():
    model, tok = tiny_model("bert")
    short, long = Explainer(model, tok, batch_size=2).explain([SHORT, LONG])
    assert short._graph is None  # lists keep no graph unless asked
    n = short.num_tokens
    tensors = {"A": short.capture.A, "V": short.capture.V, "hidden": short.capture.hidden, "emb": short.capture.emb,
               "logits": short.capture.logits, **{f"grad {k}": v for k, v in vars(short._grads[short.target]).items()},
               **{f"input {k}": v for k, v in short.model_inputs.items()}}
    for name, t in tensors.items():
        assert storage_bytes(t) == t.numel() * t.element_size(), name  # not a view into the padded batch
    assert short.capture.A.shape[-1] == n < long.num_tokens


def test_16_auto_batches_fit_the_memory_budget():
    shape = ModelShape(blocks=12, heads=12, hidden=768, dtype=torch.float32)
    per_512 = shape.capture_bytes(512)
    assert 0.6 * 2**30 < per_512 < 1.2 * 2**30  # bench/memory.py: 840 MiB per input at 512 tokens, batch of 4
    sizes = plan_batches([512] * 10 + [16] * 100, shape, budget=3 * per_512)
    # three long ones a batch; the tenth long one shares its batch with two short ones (padded to 512)
    assert sum(sizes) == 110 and sizes[:4] == [3, 3, 3, 3] and sizes[4:] == [64, 34]
    assert plan_batches([512], shape, budget=1) == [1]  # one input is always its own batch
    model, tok = tiny_model("bert")
    texts = [SENTENCE, SHORT, LONG] * 3
    tiny_budget = Explainer(model, tok, memory_budget=1).explain(texts)
    fixed = Explainer(model, tok, batch_size=16).explain(texts)
    for a, b in zip(tiny_budget, fixed):
        np.testing.assert_allclose(a.map("gae"), b.map("gae"), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size must be 'auto'"):
        Explainer(model, tok, batch_size=0)


def test_16_an_interrupt_between_batches_keeps_the_explanations_so_far(monkeypatch):
    model, tok = tiny_model("bert")
    before = model_state(model)
    explainer = Explainer(model, tok, batch_size=1)
    real = explainer._explain_batch
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(explainer, "_explain_batch", interrupted)
    with pytest.warns(UserWarning, match="interrupted: returning the 2 explanations"):
        out = explainer.explain([SENTENCE, SHORT, LONG, SHORT])
    assert [e.sample.source for e in out] == [SENTENCE, SHORT]
    assert_same_state(before, model_state(model))


# ---------------------------------------------------------------------------------------- the authors' arithmetic
def test_17_lrp_uses_the_authors_division_by_default_and_clamping_on_request():
    model, tok = tiny_model("bert", seed=3)
    e = Explainer(model.double(), tok).explain(SENTENCE)
    default, authors, clamp = (e.map("lrp_full", **opts) for opts in ({}, {"division": "authors"},
                                                                        {"division": "clamp"}))
    np.testing.assert_array_equal(default, authors)
    assert not np.array_equal(authors, clamp)  # b + 1e-9 shifts every quotient, not only those near zero
    np.testing.assert_allclose(authors, clamp, rtol=1e-3, atol=1e-9)
    b = torch.tensor([2.0, -1e-9, 0.0], dtype=torch.float64)
    np.testing.assert_array_equal(lrp_rules.safe_divide(torch.ones_like(b), b).numpy(), [1 / (2 + 1e-9), 1 / 1e-9, 0])
    with pytest.raises(ValueError, match="division must be one of"):
        e.map("chefer", division="paper")


def test_18_float64_models_see_float64_pixels_and_maps_come_back_in_float64():
    model, proc = tiny_model("vit")
    explainer = Explainer(model.double(), proc)
    pix = pixels_of(explainer, sample_image(0, (32, 32))).double() + 1e-12  # below float32's resolution
    e = explainer.explain(pix)
    assert e.model_inputs["pixel_values"].dtype == torch.float64
    assert torch.equal(e.model_inputs["pixel_values"], pix)
    for name in ("rollout", "gae", "lrp_full"):
        assert e.map(name).dtype == np.float64 and e.maps(name).dtype == np.float64, name
    model32, proc32 = tiny_model("bert")
    assert Explainer(model32, proc32).explain(SENTENCE).map("gae").dtype == np.float32


def test_19_lrp_full_per_pixel_map_sums_to_the_per_patch_map():
    model, proc = tiny_model("vit")
    e = Explainer(model.double(), proc).explain(sample_image(5, (32, 32)))
    pixels = e.pixel_map("lrp_full")
    assert pixels.shape == e.image.shape[:2] == (32, 32)
    per_patch = pixels.reshape(4, 8, 4, 8).sum(axis=(1, 3)).ravel()  # 8x8 patches on a 4x4 grid
    np.testing.assert_allclose(per_patch, e.map("lrp_full")[e.num_prefix_tokens:], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="lrp_full"):
        e.pixel_map("gae")


def test_20_flow_from_any_source_and_the_max_over_rows():
    import networkx as nx

    model, tok = tiny_model("bert")
    e = Explainer(model.double(), tok).explain("the cat sat on the mat")
    from attnviz.engine.methods.attention import augmented

    aug = augmented(e.capture.A, e.resolve_heads(None)).numpy()
    G = flow_graph_networkx(aug)
    B, N = aug.shape[0], aug.shape[1]
    flows = np.array([[nx.maximum_flow_value(G, B * N + s, j) for j in range(N)] for s in range(N)])  # [source, j]
    for s in (0, 2):
        np.testing.assert_allclose(e.map("flow", source=s), flows[s] / flows[s].sum(), atol=1e-8)
    best = flows.max(0)
    np.testing.assert_allclose(e.map("flow", row="max"), best / best.sum(), atol=1e-8)
    np.testing.assert_allclose(e.maps("flow", row="max")[-1], e.map("flow", row="max"), atol=1e-12)
    with pytest.raises(ValueError, match="source must be a token index"):
        e.map("flow", source=N)


def test_warnings_are_not_raised_for_ordinary_inputs():
    model, tok = tiny_model("bert")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = Explainer(model, tok).explain([SENTENCE, SHORT])
        e[0].map("chefer")
