"""No silent wrong answer, round three (issue 19): the cases fixed so far, one regression test each (each fails
without its fix). docs/ROBUSTNESS.md lists them under "Round three"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnviz
from attnviz import Explainer
from attnviz import evaluate as ev
from attnviz.testing import tiny_model

TEXTS = ["the movie was wonderful and the actors were brilliant", "the film was a boring mess and i want my money",
         "a gripping story told with warmth and wit , lovely"]


@pytest.fixture(scope="module")
def bert():
    model, tok = tiny_model("bert", seed=1)
    return Explainer(model, tok)


def test_4_top_tokens_rejects_k_outside_1_to_the_vocabulary():
    model, tok = tiny_model("gpt2")
    e = Explainer(model, tok).explain("the movie was")
    assert len(e.top_tokens(3)) == 3 and len(e.top_tokens(len(e.probs))) == len(e.probs)
    for bad in (0, -1, len(e.probs) + 1, 2.0, True):
        with pytest.raises(ValueError, match="top_tokens"):
            e.top_tokens(bad)


@pytest.mark.parametrize("name", ["chunk_size", "forward_batch"])
@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_6_13_chunk_and_batch_sizes_must_be_positive_integers(bert, name, bad):
    with pytest.raises(ValueError, match=f"{name} must be an integer >= 1"):
        ev.faithfulness(bert, TEXTS, ["rollout"], min_tokens=3, progress=False, **{name: bad})


def test_5_12_labels_fractional_nan_or_names(bert):
    with pytest.raises(ValueError, match=r"labels\[0\] is 0.9"):
        ev.faithfulness(bert, TEXTS, ["rollout"], target="label", labels=[0.9, 1.0, 0.0], min_tokens=3,
                        progress=False)
    with pytest.raises(ValueError, match=r"labels\[1\] is nan"):
        ev.faithfulness(bert, TEXTS, ["rollout"], target="label", labels=[0, float("nan"), 1], min_tokens=3,
                        progress=False)
    with pytest.raises(ValueError, match=r"labels\[2\]: unknown label 'class_7'"):
        ev.faithfulness(bert, TEXTS, ["rollout"], target="label", labels=[0, 1, "class_7"], min_tokens=3,
                        progress=False)
    names = bert.label_names
    by_name = ev.faithfulness(bert, TEXTS, ["rollout"], target="label", labels=[names[0], names[1], names[0]],
                              min_tokens=3, progress=False)
    by_index = ev.faithfulness(bert, TEXTS, ["rollout"], target="label", labels=[0, 1.0, np.int64(0)],
                               min_tokens=3, progress=False)
    np.testing.assert_allclose(by_name.per_instance["value"], by_index.per_instance["value"])


def test_16_a_corrupt_params_file_is_named(bert, tmp_path):
    result = ev.faithfulness(bert, TEXTS, ["rollout"], min_tokens=3, progress=False)
    folder = result.save(tmp_path / "run", format="csv")
    (folder / "params.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"params\.json' is not valid JSON"):
        ev.EvaluationResult.load(folder)
    (folder / "params.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="holds list"):
        ev.EvaluationResult.load(folder)


def test_19_sanity_leaves_the_callers_random_generator_alone(bert):
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    ev.sanity(bert, TEXTS[:1], methods=["rollout"], progress=False)
    assert torch.equal(torch.rand(3), expected)
    # and the stages stay seeded: the same seed gives the same curves
    a = ev.sanity(bert, TEXTS[:1], methods=["gae"], progress=False, seed=3)
    b = ev.sanity(bert, TEXTS[:1], methods=["gae"], progress=False, seed=3)
    np.testing.assert_allclose(a.curves["value"], b.curves["value"])


def test_the_top_level_names_resolve():
    for name in ("LogitLensView", "HeadMathView", "DirectAttributionView", "PatchingView", "patch"):
        assert getattr(attnviz, name) is not None


def test_1_a_wide_integer_image_with_8_bit_values_is_read_as_8_bit():
    model, proc = tiny_model("vit")
    explainer = Explainer(model, proc)
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    as_uint8 = explainer.explain(img)
    as_int64 = explainer.explain(img.astype(np.int64))
    np.testing.assert_array_equal(as_int64.image, as_uint8.image)
    np.testing.assert_allclose(as_int64.probs, as_uint8.probs)
    sixteen = explainer.explain(img.astype(np.uint16) * 257)  # a real 16-bit image still scales from 16 bits
    np.testing.assert_array_equal(sixteen.image, as_uint8.image)


def test_2_a_model_cast_after_the_explainer_was_made():
    model, tok = tiny_model("bert")
    explainer = Explainer(model, tok)
    model.half()
    with pytest.warns(UserWarning, match="now torch.float16, not torch.float32"):
        e = explainer.explain(TEXTS[0])
    assert explainer.dtype == torch.float16 and "float16" in repr(explainer)
    assert np.isfinite(e.map("rollout")).all()


def test_3_a_word_the_tokenizer_does_not_know_is_not_explained_as_unk():
    model, tok = attnviz.demo.induction()
    explainer = Explainer(model, tok)
    text = attnviz.demo.induction_sequence(length=4)
    with pytest.raises(ValueError, match="'elephant' is not in the tokenizer's vocabulary"):
        explainer.explain(text, target="elephant")
    with pytest.raises(ValueError, match="not in the tokenizer's vocabulary"):
        explainer.explain(text, target=("elephant", text.split()[0]))
    assert explainer.explain(text, target=text.split()[1]).target == tok.convert_tokens_to_ids(text.split()[1])


def test_14_a_mean_of_the_wrong_head_size():
    model, tok = tiny_model("gpt2")
    explainer = Explainer(model, tok)
    ids = tok("the movie was", return_tensors="pt")
    with explainer.intervene(head_values={0: {1: torch.zeros(5)}}), pytest.raises(ValueError, match="size 16"):
        model(**ids)
    with pytest.raises(ValueError, match="compute it on this model"):
        explainer.ablation_effect(["the movie was"], {0: [1]}, mode="mean", reference=torch.zeros(2, 2, 3))


def test_17_skipped_inputs_are_said(bert):
    with pytest.warns(UserWarning, match=r"3 of 3 inputs were skipped by preset 'attcat2022' \(every input"):
        result = ev.faithfulness(bert, TEXTS, ["rollout"], min_tokens=500, progress=False)
    assert result.per_instance.empty and len(result.params["skipped"]) == 3


def test_1_a_dark_16_bit_png_still_scales_from_16_bits():
    from PIL import Image

    model, proc = tiny_model("vit")
    explainer = Explainer(model, proc)
    dark = Image.fromarray(np.full((32, 32), 200, np.uint16))  # 200 / 65535: almost black at 16 bits
    assert explainer.explain(dark).image.max() <= 1


# ---------------------------------------------------------------------------------------------- second pass
@pytest.fixture(scope="module")
def decoders():
    """Two tiny GPT-2s of one shape and tokenizer (a 'pretrained' and a 'fine-tuned' stand-in)."""
    model_a, tok = tiny_model("gpt2", seed=0)
    model_b, _ = tiny_model("gpt2", seed=3)
    return Explainer(model_a, tok), Explainer(model_b, tok)


def test_7_an_encoder_and_a_decoder_are_not_compared(bert, decoders):
    enc = bert.explain("the movie was good")
    dec = decoders[0].explain("the movie was good")
    for a, b in ((enc, dec), (dec, enc)):
        with pytest.raises(attnviz.ComparisonError, match="encoder .* decoder"):
            attnviz.compare(a, b)
        with pytest.raises(attnviz.ComparisonError, match="encoder .* decoder"):
            attnviz.FlowView(a, b)


def test_8_decoders_are_compared_at_the_explained_position(decoders):
    from attnviz.engine.methods.attention import augmented

    text = "the cat sat on the mat because it was warm"
    ea, eb = decoders[0].explain(text), decoders[1].explain(text)
    p = ea.position
    assert p == ea.num_tokens - 1 > 0
    c = attnviz.compare(ea, eb)
    assert c.source == p
    # the definition written out: R_B = e_p, R_b = R_{b+1} Â_b, influence = R_0, per model
    for e, influence in ((ea, c.influence_a), (eb, c.influence_b)):
        R = np.eye(e.num_tokens)[p]
        A = torch.as_tensor(e.attention(), dtype=torch.float64)
        for b in range(e.num_layers - 1, -1, -1):
            R = R @ augmented(A[b : b + 1], torch.ones(1, e.num_heads, dtype=torch.bool))[0].numpy()
        np.testing.assert_allclose(influence, R, atol=1e-12)
        assert np.count_nonzero(influence > 1e-6) > 1  # not the trivial graph of token 0 (it sees only itself)
    assert np.abs(c.influence_change).max() > 1e-4  # two different models moved something
    np.testing.assert_allclose(c.rollout_a, ea.maps("rollout"), atol=1e-6)
    token0 = attnviz.compare(ea, eb, source=0)  # the old default: trivial on a causal model
    np.testing.assert_allclose(token0.influence_a, np.eye(ea.num_tokens)[0])
    with pytest.raises(ValueError, match="source must be a token index"):
        attnviz.compare(ea, eb, source=ea.num_tokens)
    other = decoders[1].explain(text, position=3)
    with pytest.raises(attnviz.ComparisonError, match="positions"):
        attnviz.compare(ea, other)
    view = attnviz.FlowView(ea, eb)
    assert view.source == p
    assert view.error == ""
    single = attnviz.FlowView(ea)
    assert single.source == p
    scores = attnviz.attention_to(ea, "mat")  # averaged over the rows that can see " mat" (i >= j)
    j = [i for i, t in enumerate(ea.tokens) if t == " mat"]
    assert len(j) == 1
    A = ea.attention().astype(np.float64)
    expected = sum(A[:, :, i0:, i0].mean(-1) for i0 in j)
    np.testing.assert_allclose(scores, expected, atol=1e-12)


def test_9_head_view_layer_names_a_block_of_the_original_stack():
    attention = tuple(torch.softmax(torch.randn(1, 2, 5, 5, generator=torch.Generator().manual_seed(b)), -1)
                      for b in range(4))
    tokens = list("abcde")
    view = attnviz.head_view(attention, tokens, layer=1, include_layers=[1, 2])
    assert view.layer == 0 and view.block_labels == [1, 2]  # block 1 of the model, the first one drawn
    np.testing.assert_allclose(view._attention[view.layer], attention[1][0], atol=1e-7)
    view = attnviz.head_view(attention, tokens, layer=2, include_layers=[1, 2])
    np.testing.assert_allclose(view._attention[view.layer], attention[2][0], atol=1e-7)
    with pytest.raises(ValueError, match="layer 3 is not among the blocks shown"):
        attnviz.head_view(attention, tokens, layer=3, include_layers=[1, 2])
    plain = attnviz.head_view(attention, tokens, layer=3)
    assert plain.layer == 3 and plain.block_labels == []
    with pytest.raises(ValueError, match="distinct"):
        attnviz.model_view(attention, tokens, include_layers=[1, 1])
    assert attnviz.model_view(attention, tokens, include_layers=[3, 0]).block_labels == [3, 0]


@pytest.mark.parametrize("call", ["faithfulness", "eraser", "permutation", "adversarial", "class_specificity"])
def test_10_classifier_protocols_on_a_language_model_say_so(decoders, call):
    ex = decoders[0]
    texts = ["the movie was wonderful and great fun", "a b c d e f g h"]
    calls = {"faithfulness": lambda: ev.faithfulness(ex, texts, ["rollout"], progress=False),
             "eraser": lambda: ev.faithfulness(ex, texts, ["rollout"], preset="eraser", progress=False),
             "permutation": lambda: ev.permutation(ex, texts, n_permutations=2, progress=False),
             "adversarial": lambda: ev.adversarial(ex, texts, steps=1, progress=False),
             "class_specificity": lambda: ev.class_specificity(ex, texts, [0, 1], progress=False)}
    with pytest.raises(ValueError, match="written for classifiers.*language model.*evaluate.sanity"):
        calls[call]()


def test_11_a_refused_input_is_named_by_its_index_in_the_list_and_the_rest_is_kept(bert):
    texts = [TEXTS[i % 3] for i in range(21)]
    texts[18] = "\u200b\u200b"
    with pytest.warns(UserWarning, match=r"1 of 21 inputs were skipped .*input 18: "):
        result = ev.faithfulness(bert, texts, ["rollout"], min_tokens=3, chunk_size=8, progress=False)
    assert sorted(result.per_instance["instance"].unique()) == [i for i in range(21) if i != 18]
    assert [s["instance"] for s in result.params["skipped"]] == [18]
    assert not result.partial
    with pytest.warns(UserWarning, match=r"1 of 4 inputs were skipped by agreement\(\): input 2: "):
        agreed = ev.agreement(bert, [TEXTS[0], TEXTS[1], "\u200b", TEXTS[2]], progress=False)
    assert sorted(agreed.per_instance["instance"].unique()) == [0, 1, 3]


def test_15_a_plain_dict_of_transformer_lens_patterns():
    patterns = {f"blocks.{b}.attn.hook_pattern": torch.softmax(torch.randn(1, 2, 4, 4), -1) for b in range(3)}
    patterns["blocks.0.hook_resid_pre"] = torch.zeros(1, 4, 8)
    view = attnviz.AttentionView.from_attention(patterns, list("abcd"))
    np.testing.assert_allclose(view._attention[2], patterns["blocks.2.attn.hook_pattern"][0], atol=1e-7)
    with pytest.raises(ValueError, match=r"blocks \[0\] are missing"):
        attnviz.AttentionView.from_attention({"blocks.1.attn.hook_pattern": patterns["blocks.1.attn.hook_pattern"]},
                                             list("abcd"))
    with pytest.raises(ValueError, match="no 'blocks.{l}.attn.hook_pattern'"):
        attnviz.AttentionView.from_attention({"a": 1}, list("abcd"))
    with pytest.raises(ValueError, match="ragged or not numbers"):
        attnviz.AttentionView.from_attention(np.array([np.zeros((2, 4, 4)), None], dtype=object), list("abcd"))


def test_18_special_tokens_typed_in_the_text(bert):
    for text in ("[CLS] [SEP]", "[SEP]"):
        with pytest.raises(ValueError, match="only the tokenizer's special tokens"):
            bert.explain(text)
        with pytest.warns(UserWarning, match="skipped"):
            result = ev.faithfulness(bert, [TEXTS[0], text], ["rollout"], min_tokens=3, progress=False)
        assert sorted(result.per_instance["instance"].unique()) == [0]
    with pytest.warns(UserWarning, match=r"special token\(s\) \[SEP\] written out"):
        e = bert.explain("the movie [SEP] was good")
    j = e.tokens.index("[SEP]")
    assert j < e.num_tokens - 1 and e.special[j]  # marked special: not explained or deleted as content


def test_21_diagnostics_are_kept_per_target(bert):
    e = bert.explain(TEXTS[0])
    e.map("attn_gradcam", target=0)
    e.map("attn_gradcam", target=1)
    grads = e._gradients(0)
    for block in grads.A:  # target 0's map now clamps to zero everywhere; target 1's stays a normal map
        block.zero_()
    e._cache.clear()
    e.map("attn_gradcam", target=0)
    e.map("attn_gradcam", target=1)
    assert e.diagnostic("attn_gradcam", target=0)["zero_blocks"] == list(range(e.num_layers))
    assert e.diagnostic("attn_gradcam", target=1) is None


def test_27_bokeh_legends_fit_titles_are_short_and_the_scatter_has_a_tooltip(bert):
    from bokeh.models import HoverTool, Legend, Title

    methods = ["raw", "last_layer", "rollout", "flow", "gae", "attcat", "attn_gradcam", "grad_input", "chefer"]
    result = ev.faithfulness(bert, TEXTS, methods, min_tokens=3, progress=False)
    layout = result.plot().layout
    figures = [f for row in layout.children for f in row.children]
    curves = [f for f in figures if any(isinstance(x, Legend) for x in f.below)]
    assert curves, "the curve's legend is under the plot"
    for f in curves:
        legend = next(x for x in f.below if isinstance(x, Legend))
        assert len(legend.items) == len(methods) and legend.ncols == 3
        assert not any(isinstance(x, Legend) for x in f.right)
        assert f.height >= 300 + 20 * 3  # grown to hold three rows of entries
    perm = ev.permutation(bert, TEXTS, n_permutations=3, progress=False).plot().layout
    scatter = perm.children[0].children[0]
    assert len(scatter.title.text) * 7 <= scatter.width  # ~7 px a character at bokeh's title font
    assert any(isinstance(t, Title) and "instances" in t.text for t in scatter.above)
    hover = [t for t in scatter.tools if isinstance(t, HoverTool)]
    assert hover and hover[0].renderers and hover[0].renderers[0].glyph.__class__.__name__ == "Scatter"


def test_28_sanity_says_where_spearman_is_undefined_without_scipy_on_stderr(bert, monkeypatch):
    import warnings

    import attnviz.evaluate.checks as checks

    def zero(model, modules):  # every randomised stage becomes all zeros: uniform attention, constant raw maps
        with torch.no_grad():
            for module in modules:
                for p in module.parameters():
                    p.zero_()

    monkeypatch.setattr(checks, "_reinitialise", zero)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ev.sanity(bert, TEXTS[:2], ["last_layer"], progress=False)
    assert result.curves["value"].isna().any()
    assert "Spearman values are NaN: a map was constant" in result.params["undefined"]
    assert checks._spearman(np.ones(4), np.arange(4.0)) != checks._spearman(np.ones(4), np.arange(4.0))  # NaN
    assert checks._spearman(np.arange(4.0), np.arange(4.0)) == pytest.approx(1.0)


@pytest.mark.parametrize("arch", ["bert", "vit"])
def test_23_blocks_read_is_what_the_head_mask_can_change(arch):
    """For every method and row, switching off every head of the blocks ``blocks_read`` leaves out never changes the
    row, and (where it reads attention) switching off the blocks it names does: the views grey exactly those."""
    from attnviz.engine.methods import blocks_read

    model, proc = tiny_model(arch, seed=2)
    ex = Explainer(model, proc)
    e = ex.explain("the movie was wonderful and brilliant" if arch == "bert" else
                   np.random.default_rng(0).integers(0, 255, (32, 32, 3)).astype(np.uint8))
    B, H = e.num_layers, e.num_heads
    for method in e.method_names():
        if method == "integrated_gradients":
            continue
        for options in ({}, {"start_layer": 1}) if method in ("rollout", "chefer") else ({},):
            full = e.maps(method, **options)
            for layer in range(B):
                span = blocks_read(method, layer, B, options, e.kind)
                np.testing.assert_allclose(e.maps(method, heads=_keep(B, H, span), **options)[layer], full[layer],
                                           atol=1e-6, err_msg=f"{method} {options} row {layer} {span}")
                if span is not None and np.ptp(full[layer]) > 0:  # (a map clamped to zero cannot change)
                    inside = np.ones((B, H), bool)
                    inside[span[0]:span[1] + 1] = False
                    changed = e.maps(method, heads=inside, **options)[layer]
                    assert not np.allclose(changed, full[layer], atol=1e-6), (method, options, layer, span)


def _keep(B: int, H: int, span) -> np.ndarray:
    """bool [B, H]: every head of the blocks in ``span`` (inclusive), none of the others."""
    mask = np.zeros((B, H), bool)
    if span is not None:
        mask[span[0]:span[1] + 1] = True
    return mask


def test_23_the_text_view_sends_which_blocks_each_row_reads(bert):
    e = bert.explain(TEXTS[0])
    view = attnviz.TextView(e, method="chefer")
    assert view.reads == [[b, b] for b in range(e.num_layers)]  # the authors' start_layer: block l alone
    view.method = "rollout"
    assert view.reads == [[0, b] for b in range(e.num_layers)]
    view.method = "grad_input"
    assert view.reads == [[] for _ in range(e.num_layers)]


def test_20_lrp_conservation_is_recorded_said_and_a_conservative_variant_exists():
    """The sentiment demo's lrp_full (the authors' 'lrp' rules) leaves its seed of 1 far behind; the diagnostic, a
    warning and the view's note say so, per (method, target, options); rules='chefer' conserves it at every stage."""
    model, tokenizer = attnviz.demo.sentiment()
    e = Explainer(model, tokenizer).explain("a dreadful bore")
    with pytest.warns(UserWarning, match="lrp_full: the relevance is not conserved .* not shares of the logit"):
        authors = e.map("lrp_full")
    report = e.diagnostic("lrp_full")
    assert not report["trusted"] and report["worst"] > 10 and report["seed"] == 1.0
    assert abs(report["stages"]["input"]) > 10 and abs(float(authors.sum())) > 10  # the map ([CLS] zeroed) too
    conservative = e.map("lrp_full", rules="chefer")
    kept = e.diagnostic("lrp_full", rules="chefer")
    assert kept["trusted"] and kept["note"] == ""
    for stage, total in kept["stages"].items():  # the z+ rule and Chefer's Add keep the seed at every stage
        assert total == pytest.approx(1.0, abs=1e-4), stage
    kept_cls = e.map("lrp_full", rules="chefer", cls_entry="keep")  # (the default zeroes [CLS], as the authors)
    assert float(kept_cls.sum()) == pytest.approx(1.0, abs=1e-4) and conservative[0] == 0
    assert not e.diagnostic("lrp_full")["trusted"]  # the default's report is still its own (keyed by options)
    other = 1 - e.target
    e.map("lrp_full", target=other)
    assert e.diagnostic("lrp_full", target=other) is not e.diagnostic("lrp_full")
    view = attnviz.TextView(e, method="lrp_full")
    assert "not shares of the logit" in view.method_note
    view.method = "chefer"
    assert view.method_note == "" and e.diagnostic("chefer")["trusted"]
    view.method = "lrp_full"
    view.options = {"rules": "chefer"}
    assert view.method_note == ""
    compare = attnviz.CompareView(e, methods=["lrp_full", "chefer"])
    assert set(compare.notes) == {"lrp_full"} and "not shares of the logit" in compare.notes["lrp_full"]
    compare.options = {"lrp_full": {"rules": "chefer"}}
    assert compare.notes == {}


# ---------------------------------------------------------------------------------------------- the sweep
SWEEP = {  # call -> (exception, message): each was a raw numpy/torch error, a silent misreading, or accepted
    "compare names=('a',)": (lambda x, e, e2: attnviz.compare(e, e2, names=("a",)), ValueError, "two names"),
    "compare names='ab'": (lambda x, e, e2: attnviz.compare(e, e2, names="ab"), ValueError, "two names"),
    "attention_to []": (lambda x, e, e2: attnviz.attention_to([], "movie"), ValueError, "non-empty list"),
    "attention_to ['x']": (lambda x, e, e2: attnviz.attention_to(["x"], "movie"), TypeError, "item 0 is str"),
    "attention_to word=5": (lambda x, e, e2: attnviz.attention_to(e, 5), TypeError, "word must be a string"),
    "head_view heads='0'": (lambda x, e, e2: attnviz.head_view(e.attention(), e.tokens, heads="0"), ValueError,
                            "head indices"),
    "head_view heads=[0.5]": (lambda x, e, e2: attnviz.head_view(e.attention(), e.tokens, heads=[0.5]),
                              ValueError, "head indices"),
    "faithfulness bootstrap=-1": (lambda x, e, e2: ev.faithfulness(x, TEXTS, ["rollout"], bootstrap=-1),
                                  ValueError, "bootstrap must be an integer >= 0"),
    "faithfulness seed='a'": (lambda x, e, e2: ev.faithfulness(x, TEXTS, ["rollout"], seed="a"), ValueError,
                              "seed must be"),
    "faithfulness options for another method": (
        lambda x, e, e2: ev.faithfulness(x, TEXTS, ["rollout"], options={"gae": {}}), ValueError,
        r"options are given for \['gae'\]"),
    "faithfulness min_tokens=-1": (lambda x, e, e2: ev.faithfulness(x, TEXTS, ["rollout"], min_tokens=-1),
                                   ValueError, "min_tokens must be"),
    "eraser bins=0": (lambda x, e, e2: ev.faithfulness(x, TEXTS, ["rollout"], preset="eraser", bins=0), ValueError,
                      "bins must be a non-empty list"),
    "agreement k=0": (lambda x, e, e2: ev.agreement(x, TEXTS, k=0), ValueError, "k must be an integer >= 1"),
    "permutation n_permutations=1.5": (lambda x, e, e2: ev.permutation(x, TEXTS, n_permutations=1.5), ValueError,
                                       "n_permutations must be"),
    "adversarial candidates=0": (lambda x, e, e2: ev.adversarial(x, TEXTS, candidates=0), ValueError,
                                 "candidates must be"),
    "adversarial steps=0": (lambda x, e, e2: ev.adversarial(x, TEXTS, steps=0), ValueError, "steps must be"),
    "adversarial lr=-1": (lambda x, e, e2: ev.adversarial(x, TEXTS, lr=-1), ValueError, "lr must be a number > 0"),
    "adversarial select=-0.1": (lambda x, e, e2: ev.adversarial(x, TEXTS, select=-0.1), ValueError,
                                "select must be"),
}


@pytest.mark.parametrize("case", list(SWEEP))
def test_sweep_odd_arguments_get_a_clear_error(bert, case):
    call, error, message = SWEEP[case]
    e = bert.explain(TEXTS[0])
    e2 = Explainer(*tiny_model("bert", seed=2)).explain(TEXTS[0])
    with pytest.raises(error, match=message):
        call(bert, e, e2)


def test_sweep_a_method_name_is_one_method_and_bootstrap_0_means_no_interval(bert):
    one = ev.faithfulness(bert, TEXTS, "rollout", min_tokens=3, bootstrap=0, progress=False)
    assert list(one.table.index) == ["rollout"]  # not the letters r, o, l, ...
    assert one.table["aopc lo"].isna().all() and one.table["aopc"].notna().all()


def test_a_target_given_as_a_one_element_tensor():
    """``target=logits.argmax()`` works for a classifier's class and a language model's token; a tensor of several
    elements, of floats or of bools is a clear TypeError naming what it must hold."""
    clf = attnviz.Explainer(*tiny_model("bert"))
    e = clf.explain("the movie was wonderful")
    assert e.map("gae", target=torch.tensor(1)).tolist() == e.map("gae", target=1).tolist()
    for bad in (torch.tensor([0, 1]), torch.tensor(1.0), torch.tensor(True)):
        with pytest.raises(TypeError, match="one integer class index"):
            clf.check_target(bad)
    lm = attnviz.Explainer(*tiny_model("gpt2"))
    d = lm.explain("the movie was wonderful")
    token = int(np.argmax(d.probs))
    assert d.map("gae", target=torch.tensor(token)).tolist() == d.map("gae", target=token).tolist()
    with pytest.raises(TypeError, match="one integer token id"):
        lm.check_target(torch.tensor([token, token]))
