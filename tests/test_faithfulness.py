"""The evaluation suite (issue 9): every metric against a slow literal implementation of its METHODS.md formula on
a tiny float64 model, the interventions on the forward pass, properties, bad input, interrupts, save/load.

The literal references run the model once per perturbed copy, build each copy with Python list operations on the
token ids (or numpy on the pixels), and write the formulas out; the engine batches everything. Tolerance: 1e-9 on
probabilities of a float64 model (round-off of batched against single forwards)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_same_state, model_state, sample_image
from scipy.stats import kendalltau, spearmanr

from attnviz import Explainer
from attnviz import evaluate as ev
from attnviz.engine.intervention import Intervention, intervened
from attnviz.evaluate.jain_wallace import gradient_importance, permute_rows, random_permutations
from attnviz.evaluate.presets import attcat_steps
from attnviz.evaluate.stats import topk_kendall_distance
from attnviz.testing import tiny_model

TOL = 1e-9
TEXTS = ["the movie was wonderful and the actors were brilliant", "the film was a boring mess and i want my money",
         "a gripping story told with warmth and wit , lovely", "the plot is thin but the music is lovely and warm"]


@pytest.fixture(scope="module")
def text64():
    model, tok = tiny_model("bert", seed=1)
    model = model.double()
    return model, tok, Explainer(model, tok)


def p_of(model, ids: list[int], target: int, segments: list[int] | None = None) -> float:
    """The literal forward: one copy, softmax probability of the target."""
    x = torch.tensor([ids])
    kwargs = {"attention_mask": torch.ones_like(x)}
    if segments is not None:
        kwargs["token_type_ids"] = torch.tensor([segments])
    with torch.no_grad():
        return float(torch.softmax(model(input_ids=x, **kwargs).logits[0], -1)[target])


def value(result, instance, method, metric):
    rows = result.per_instance
    sel = rows[(rows.instance == instance) & (rows.method == method) & (rows.metric == metric)]
    assert len(sel) == 1, (instance, method, metric)
    return float(sel.value.iloc[0])


# ---------------------------------------------------------------------------------------------- deletion metrics
@pytest.mark.parametrize("replace", ["delete", "pad"])
def test_attcat_aopc_and_lodds_match_the_literal_formula(text64, replace):
    model, tok, explainer = text64
    result = ev.faithfulness(explainer, TEXTS, ["gae", "rollout"], preset="attcat2022", replace=replace,
                             min_tokens=5, progress=False)
    for i, text in enumerate(TEXTS):
        e = explainer.explain(text)
        ids = e.model_inputs["input_ids"][0].tolist()
        N, t = len(ids), e.target
        p0 = p_of(model, ids, t)
        for method in ("gae", "rollout"):
            m = e.map(method).astype(np.float32)
            ranking = np.argsort(-m)
            ps = []
            for g in np.linspace(0, 1, 10)[1:]:
                k = int(round(g * N))
                chosen = []
                for r in range(N - 1):  # the authors' loop: the last-ranked position is never reached
                    if not e.special[ranking[r]]:
                        chosen.append(int(ranking[r]))
                    if len(chosen) == k:
                        break
                if replace == "delete":
                    new = [x for j, x in enumerate(ids) if j not in chosen]
                else:
                    new = [tok.pad_token_id if j in chosen else x for j, x in enumerate(ids)]
                ps.append(p_of(model, new, t))
            ps = list(dict(zip([int(round(g * N)) for g in np.linspace(0, 1, 10)[1:]], ps)).values())
            aopc = np.mean([abs(p0 - p) for p in ps])
            lodds = np.mean([math.log(p / p0) for p in ps])
            assert abs(value(result, i, method, "aopc") - aopc) < TOL
            assert abs(value(result, i, method, "lodds") - lodds) < 1e-8


def test_attcat_steps_are_the_authors_deduplicated_rounds():
    assert attcat_steps(10) == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert attcat_steps(4) == [1, 2, 3, 4]  # round(4/9) = 0 is dropped with the first entry
    assert attcat_steps(3) == [1, 2, 3]


def test_eraser_and_ferret_match_the_literal_formulas(text64):
    model, tok, explainer = text64
    eraser = ev.faithfulness(explainer, TEXTS[:2], ["attcat"], preset="eraser", progress=False)
    ferret = ev.faithfulness(explainer, TEXTS[:2], ["attcat"], preset="ferret", progress=False)
    for i, text in enumerate(TEXTS[:2]):
        e = explainer.explain(text)
        ids = e.model_inputs["input_ids"][0].tolist()
        t = e.target
        p0 = p_of(model, ids, t)
        m = e.map("attcat")
        words = [j for j in np.argsort(-m, kind="stable") if not e.special[j]]
        L = len(words)

        def comp_suff(k, words=words, ids=ids, special=e.special, p0=p0, t=t):
            top = set(words[:k])
            without = [x for j, x in enumerate(ids) if j not in top]
            only = [x for j, x in enumerate(ids) if j in top or special[j]]
            return p0 - p_of(model, without, t), p0 - p_of(model, only, t)

        bins = [comp_suff(min(L, max(1, math.ceil(q * L / 100)))) for q in (1, 5, 10, 20, 50)]
        assert abs(value(eraser, i, "attcat", "comprehensiveness") - np.mean([c for c, _ in bins])) < TOL
        assert abs(value(eraser, i, "attcat", "sufficiency") - np.mean([s for _, s in bins])) < TOL
        every = [comp_suff(k) for k in range(1, L + 1)]
        assert abs(value(ferret, i, "attcat", "aopc_comprehensiveness") - np.mean([c for c, _ in every])) < TOL
        assert abs(value(ferret, i, "attcat", "aopc_sufficiency") - np.mean([s for _, s in every])) < TOL


def test_dig_log_odds_swaps_word_embeddings_for_the_pad_embedding(text64):
    model, tok, explainer = text64
    result = ev.faithfulness(explainer, TEXTS[:2], ["grad_input"], preset="dig", progress=False)
    for i, text in enumerate(TEXTS[:2]):
        e = explainer.explain(text)
        ids = e.model_inputs["input_ids"]
        t = e.target
        m = e.map("grad_input")
        k = int(len(m) * 20 / 100)
        top = np.argsort(-m, kind="stable")[:k]
        words = model.bert.embeddings.word_embeddings
        with torch.no_grad():
            emb = words(ids).clone()
            emb[0, torch.as_tensor(top)] = words.weight[tok.pad_token_id]
            p = torch.softmax(model(inputs_embeds=emb, attention_mask=torch.ones_like(ids)).logits[0], -1)[t]
            p0 = torch.softmax(model(input_ids=ids).logits[0], -1)[t]
        assert abs(value(result, i, "grad_input", "log_odds") - float(torch.log(p) - torch.log(p0))) < 1e-8


def test_chefer_perturbation_auc_matches_the_literal_pixel_loop():
    model, proc = tiny_model("vit", num_labels=3, seed=2)
    model = model.double()
    explainer = Explainer(model, proc)
    images = [sample_image(i, (32, 32)) for i in range(3)]
    labels = [0, 1, 2]
    result = ev.faithfulness(explainer, images, ["rollout"], preset="chefer2021", labels=labels, progress=False)
    from attnviz.evaluate import upsample

    for i, (image, label) in enumerate(zip(images, labels)):
        e = explainer.explain(image)
        pix = e.model_inputs["pixel_values"][0].numpy()
        rel = upsample(e, e.map("rollout").astype(np.float32), (32, 32)).ravel()
        order = np.argsort(-rel, kind="stable")
        zero = (0 - np.asarray(proc.image_mean)) / np.asarray(proc.image_std)
        for sign, ranked in (("positive", order), ("negative", order[::-1])):
            acc = []
            for p in np.arange(1, 10) / 10:
                x = pix.reshape(3, -1).copy()
                for j in ranked[: int(len(order) * p)]:
                    x[:, j] = zero
                with torch.no_grad():
                    logits = model(pixel_values=torch.as_tensor(x.reshape(1, 3, 32, 32))).logits[0]
                acc.append(float(int(logits.argmax()) == label))
            auc = sum((acc[j] + acc[j + 1]) / 2 * 0.1 for j in range(8))
            assert abs(value(result, i, "rollout", f"{sign}_auc") - auc) < 1e-12


def test_segmentation_scores_match_the_literal_definitions():
    rng = np.random.default_rng(0)
    values = rng.random((6, 7))
    mask = rng.random((6, 7)) > 0.6
    got = ev.segmentation_scores(values, mask)
    norm = (values - values.min()) / (values.max() - values.min())
    pred = norm > norm.mean()
    iou = lambda a, b: (a & b).sum() / (a | b).sum()  # noqa: E731
    assert got["pixel_accuracy"] == pytest.approx((pred == mask).mean())
    assert got["miou"] == pytest.approx((iou(pred, mask) + iou(~pred, ~mask)) / 2)
    # AP by its definition: the mean of the precision at the rank of every positive (no ties here)
    order = np.argsort(-norm.ravel())
    hits = mask.ravel()[order]
    ap = np.mean([hits[: r + 1].mean() for r in range(hits.size) if hits[r]])
    assert got["map"] == pytest.approx(ap, abs=1e-12)


# ---------------------------------------------------------------------------------------------- Jain & Wallace
def test_kendall_distance_top_k_on_hand_examples():
    a = np.array([4.0, 3, 2, 1])
    assert topk_kendall_distance(a, a, 2) == 0.0
    # disjoint top 2: 4 cross pairs at 1 and the 2 within-list pairs at p = 0.5: the maximum k² + p·k(k−1) = 5
    assert topk_kendall_distance(a, np.array([1.0, 2, 3, 4]), 2) == 1.0
    # top 2 of a: [0, 1]; of b: [1, 0]: one discordant pair, 1 of the maximum 5
    assert topk_kendall_distance(a, np.array([3.0, 4, 2, 1]), 2) == pytest.approx(0.2)


def test_gradient_importance_equals_finite_differences_with_attention_held_constant(text64):
    model, tok, explainer = text64
    e = explainer.explain(TEXTS[0])
    g = gradient_importance(explainer, e.model_inputs)
    ids = e.model_inputs["input_ids"]
    words = model.bert.embeddings.word_embeddings
    with torch.no_grad(), explainer.prepared():
        recorded = model(input_ids=ids, output_attentions=True).attentions
        emb = words(ids)
    constant = Intervention(attention={b: (lambda A, R=recorded[b]: R) for b in range(len(recorded))})

    def probs(x):
        with intervened(model, explainer.adapter, constant), torch.no_grad():
            return torch.softmax(model(inputs_embeds=x).logits[0], -1)

    h = 1e-6
    expected = np.zeros(ids.shape[1])
    for c in range(2):
        for j in range(ids.shape[1]):
            total = 0.0
            for d in range(emb.shape[-1]):
                up, down = emb.clone(), emb.clone()
                up[0, j, d] += h
                down[0, j, d] -= h
                total += float((probs(up)[c] - probs(down)[c]) / (2 * h)) * float(emb[0, j, d])
            expected[j] += abs(total)
    np.testing.assert_allclose(g, expected / expected.sum(), atol=1e-6)


def test_agreement_taus_match_scipy_on_the_inner_tokens(text64):
    model, tok, explainer = text64
    result = ev.agreement(explainer, TEXTS[:2], methods=["rollout"], progress=False)
    for i, text in enumerate(TEXTS[:2]):
        e = explainer.explain(text)
        ids = e.model_inputs["input_ids"][0].tolist()
        N = len(ids)
        base = torch.softmax(model(input_ids=torch.tensor([ids])).logits[0], -1).detach()
        loo = np.zeros(N)
        for j in range(1, N - 1):
            p = torch.softmax(model(input_ids=torch.tensor([ids[:j] + ids[j + 1:]])).logits[0], -1).detach()
            loo[j] = float((p - base).abs().mean())
        a = e.map("rollout")
        assert abs(value(result, i, "rollout", "tau_loo") - kendalltau(a[1:N - 1], loo[1:N - 1]).statistic) < 1e-12
        g = gradient_importance(explainer, e.model_inputs)
        assert abs(value(result, i, "rollout", "tau_gradient") - kendalltau(a[1:N - 1], g[1:N - 1]).statistic) < 1e-9


def test_permutation_changes_only_the_chosen_row_and_matches_a_literal_loop(text64):
    model, tok, explainer = text64
    result = ev.permutation(explainer, TEXTS[:1], n_permutations=7, seed=3, progress=False)
    e = explainer.explain(TEXTS[0])
    N = e.num_tokens
    perms = random_permutations(7, N, np.random.default_rng(3))
    ids = e.model_inputs["input_ids"]
    with explainer.prepared(), torch.no_grad():
        base = torch.softmax(model(input_ids=ids).logits[0], -1)
    tvds = []
    for perm in perms:
        def swap(A, perm=perm):
            out = A.clone()
            out[:, :, 0, :] = A[:, :, 0, torch.as_tensor(perm)]
            return out

        with intervened(model, explainer.adapter, Intervention(attention={1: swap})), torch.no_grad():
            p = torch.softmax(model(input_ids=ids).logits[0], -1)
        tvds.append(0.5 * float((p - base).abs().sum()))
    assert abs(value(result, 0, "attention", "median_tvd") - float(np.median(tvds))) < TOL
    row = result.per_instance.iloc[0]
    assert row.max_attention == pytest.approx(float(e.capture.A[1].mean(0)[0, 1:N - 1].max()))


def test_permuting_a_one_hot_attention_that_moves_nothing_is_the_identity():
    A = torch.zeros(3, 2, 5, 5, dtype=torch.float64)
    A[:, :, :, 0] = 1.0  # every row one-hot on [CLS], which is never permuted
    perms = torch.as_tensor(random_permutations(3, 5, np.random.default_rng(0)))
    assert torch.equal(permute_rows(A, perms, "cls"), A) and torch.equal(permute_rows(A, perms, "all"), A)
    B = torch.rand(1, 2, 5, 5, dtype=torch.float64)
    identity = torch.arange(5)[None]
    assert torch.equal(permute_rows(B, identity, "all"), B)
    assert (random_permutations(4, 3, np.random.default_rng(0)) == np.arange(3)).all()  # one middle token


def test_adversarial_attention_keeps_the_output_and_is_bounded(text64):
    model, tok, explainer = text64
    before = model_state(model)
    result = ev.adversarial(explainer, TEXTS[:1], steps=30, progress=False)
    row = result.per_instance.iloc[0]
    assert row.metric == "max_jsd" and (np.isnan(row.value) or 0 <= row.value <= math.log(2) + 1e-12)
    again = ev.adversarial(explainer, TEXTS[:1], steps=30, progress=False)
    assert again.per_instance.value.equals(result.per_instance.value)  # seeded
    assert result.params["steps"] == 30 and result.params["epsilon"] == 0.01 and result.params["select"] == 0.05
    assert_same_state(before, model_state(model))


# ---------------------------------------------------------------------------------------------- interventions
def test_an_empty_intervention_is_the_models_own_eager_forward_and_heads_zero_their_slice(text64):
    model, tok, explainer = text64
    ids = explainer.explain(TEXTS[1]).model_inputs["input_ids"]
    before = model_state(model)
    with explainer.prepared(), torch.no_grad():
        plain = model(input_ids=ids).logits
    with intervened(model, explainer.adapter, Intervention()), torch.no_grad():
        same = model(input_ids=ids).logits
    assert torch.equal(plain, same)
    # head 1 of block 0 zeroed = its slice of the attention output (before W_O) set to zero
    out_proj = model.bert.encoder.layer[0].attention.output.dense
    handle = out_proj.register_forward_pre_hook(lambda _m, args: (args[0] * torch.tensor([1.0] * 16 + [0.0] * 16,
                                                                                          dtype=args[0].dtype),))
    try:
        with explainer.prepared(), torch.no_grad():
            manual = model(input_ids=ids).logits
    finally:
        handle.remove()
    with intervened(model, explainer.adapter, Intervention(zero_heads={0: (1,)})), torch.no_grad():
        zeroed = model(input_ids=ids).logits
    torch.testing.assert_close(zeroed, manual, rtol=0, atol=1e-12)
    with explainer.intervene(zero_heads={0: (1,)}), torch.no_grad():  # the same, from the explainer
        assert torch.equal(model(input_ids=ids).logits, zeroed)
    zero = Intervention(zero_heads={0: (1,)})
    with pytest.raises(RuntimeError, match="boom"), intervened(model, explainer.adapter, zero):
        raise RuntimeError("boom")
    assert_same_state(before, model_state(model))
    with pytest.raises(ValueError, match="block 7 does not exist"):
        with intervened(model, explainer.adapter, Intervention(zero_heads={7: (0,)})):
            pass


# ---------------------------------------------------------------------------------------------- checks
def test_class_specificity_is_the_kendall_tau_between_the_two_classes_maps(text64):
    model, tok, explainer = text64
    plain = ev.class_specificity(explainer, TEXTS[:2], [0, 1], methods=["gae", "rollout"], progress=False)
    authors = ev.class_specificity(explainer, TEXTS[:2], [0, 1], methods=["gae"], variant="attcat2022",
                                   progress=False)
    for i, (text, label) in enumerate(zip(TEXTS[:2], [0, 1])):
        e = explainer.explain(text)
        a, b = e.map("gae", target=label), e.map("gae", target=1 - label)
        assert value(plain, i, "gae", "tau") == pytest.approx(kendalltau(a, b).statistic)
        assert value(authors, i, "gae", "tau") == pytest.approx(kendalltau(np.argsort(-a), np.argsort(-b)).statistic)
        assert value(plain, i, "rollout", "tau") == pytest.approx(1.0)  # class-agnostic: one map for every class


def test_sanity_check_leaves_the_model_alone_and_fails_a_method_that_ignores_the_model():
    from attnviz.engine import methods as registry
    from attnviz.engine.methods import MethodInfo, register

    def input_only(trace, heads):  # reads the input ids only: the model's weights cannot change it
        ids = trace.context.model_inputs["input_ids"][0].to(trace.capture.A.dtype)
        return ids.expand(trace.num_blocks, -1).clone()

    register(MethodInfo("test_input_only", "test", "ignores the model", input_only, class_specific=False))
    try:
        model, tok = tiny_model("bert", seed=4)
        before = model_state(model)
        result = ev.sanity(Explainer(model, tok), TEXTS[:2], methods=["test_input_only", "gae"], progress=False)
        assert_same_state(before, model_state(model))
        final = result.table["spearman_final"]
        assert final["test_input_only"] == pytest.approx(1.0)  # never changes: it fails the check
        assert final["gae"] < 0.9
        curve = result.curves[result.curves.method == "gae"]
        assert set(curve.x) == set(range(0, 4)) and (curve[curve.x == 0].value == 1).all()  # head + 2 blocks
        e = Explainer(model, tok).explain(TEXTS[0])
        assert spearmanr(e.map("gae"), e.map("gae")).statistic == pytest.approx(1.0)
    finally:
        registry().pop("test_input_only", None)
        from attnviz.engine.methods import _REGISTRY

        _REGISTRY.pop("test_input_only", None)


# ---------------------------------------------------------------------------------------------- properties
def test_deleting_nothing_changes_nothing_and_random_maps_score_the_random_baseline(text64):
    from attnviz.evaluate.perturb import Variant, probabilities, token_variant

    model, tok, explainer = text64
    e = explainer.explain(TEXTS[0])
    original = Variant({k: v[0] for k, v in e.model_inputs.items()})
    for replace in ("delete", "pad", "mask", "baseline"):
        same = token_variant(e.model_inputs, [], replace, {"pad": tok.pad_token_id, "mask": tok.mask_token_id})
        p = probabilities(explainer, [original, same])
        assert np.array_equal(p[0], p[1]), replace
    rng = np.random.default_rng(0)
    texts = TEXTS * 3
    aopcs = []
    from attnviz.engine.methods import _REGISTRY, MethodInfo, register

    for seed in range(6):
        def random_map(trace, heads, seed=seed):
            g = torch.Generator().manual_seed(seed + 1000 * trace.num_tokens)
            return torch.rand(trace.num_blocks, trace.num_tokens, generator=g, dtype=trace.capture.A.dtype)

        register(MethodInfo("test_random", "test", "random", random_map, class_specific=False))
        try:
            r = ev.faithfulness(explainer, texts, ["test_random"], min_tokens=5, progress=False)
            aopcs.append(r.table.loc["test_random", "aopc"])
        finally:
            _REGISTRY.pop("test_random", None)
    spread = np.std(aopcs)
    assert spread < 0.1 * np.mean(aopcs) + 0.02  # one random map is the random baseline, within its spread
    assert rng is not None


# ---------------------------------------------------------------------------------------------- the API
def test_bad_input_gets_clear_errors(text64):
    model, tok, explainer = text64
    with pytest.raises(ValueError, match="empty"):
        ev.faithfulness(explainer, [])
    with pytest.raises(TypeError, match="sentences or .* pairs"):
        ev.faithfulness(explainer, ["a sentence", np.zeros((4, 4, 3))])
    with pytest.raises(ValueError, match="measures image models.*attcat2022"):
        ev.faithfulness(explainer, TEXTS, preset="chefer2021")
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        ev.faithfulness(explainer, TEXTS, ["nope"])
    with pytest.raises(ValueError, match="unknown preset 'paper'.*attcat2022, eraser, ferret, dig, chefer2021"):
        ev.faithfulness(explainer, TEXTS, preset="paper")
    with pytest.raises(ValueError, match="out of range"):
        ev.faithfulness(explainer, TEXTS, target=5)
    with pytest.raises(ValueError, match='needs labels'):
        ev.faithfulness(explainer, TEXTS, target="label")
    with pytest.raises(TypeError, match="no parameter bins"):
        ev.faithfulness(explainer, TEXTS, preset="attcat2022", bins=(1, 2))
    image_explainer = Explainer(*tiny_model("vit"))
    with pytest.raises(ValueError, match="measures text models"):
        ev.faithfulness(image_explainer, [sample_image(0, (32, 32))], preset="eraser")
    with pytest.raises(ValueError, match="labels"):
        ev.faithfulness(image_explainer, [sample_image(0, (32, 32))], preset="chefer2021")
    with pytest.raises(ValueError, match="measures text models"):
        ev.permutation(image_explainer, [sample_image(0, (32, 32))])


def test_interrupt_returns_the_instances_so_far_and_results_round_trip(text64, tmp_path, monkeypatch):
    import importlib

    module = importlib.import_module("attnviz.evaluate.faithfulness")

    model, tok, explainer = text64
    real = module._evaluate_chunk
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "_evaluate_chunk", interrupted)
    with pytest.warns(UserWarning, match="interrupted"):
        result = ev.faithfulness(explainer, TEXTS, ["rollout"], min_tokens=5, chunk_size=2, progress=False)
    assert result.partial and set(result.per_instance.instance) == {0, 1} and "partial" in repr(result)
    monkeypatch.setattr(module, "_evaluate_chunk", real)
    full = ev.faithfulness(explainer, TEXTS, ["rollout", "gae"], min_tokens=5, progress=False)
    table = full.table
    assert list(table.index) == ["rollout", "gae"] and (table["n"] == 4).all()
    assert (table["aopc lo"] <= table["aopc"]).all() and (table["aopc"] <= table["aopc hi"]).all()
    assert full.params["preset"] == "attcat2022" and full.params["replace"] == "delete"
    for fmt in ("parquet", "csv"):
        folder = full.save(tmp_path / fmt, format=fmt)
        back = ev.EvaluationResult.load(folder)
        assert isinstance(back, ev.FaithfulnessResult)
        pd.testing.assert_frame_equal(back.table, table)
        assert len(back.curves) == len(full.curves)
    assert set(full.scores(0)) == {"rollout", "gae"} and "aopc" in full.scores(0)["gae"]


def test_compare_view_shows_the_evaluation_scores_of_its_input(text64):
    model, tok, explainer = text64
    result = ev.faithfulness(explainer, TEXTS[:2], ["rollout", "gae"], min_tokens=5, progress=False)
    e = explainer.explain(TEXTS[1])
    view = result.compare_view(e, 1)
    assert list(view.methods) == ["rollout", "gae"]
    assert view.scores["gae"]["aopc"] == pytest.approx(value(result, 1, "gae", "aopc"))
    assert set(view.scores["rollout"]) == {"aopc", "lodds"}
    figure = result.figure()
    assert len(figure.axes) == 3  # the curve and the two metrics
    assert figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"  # draws inline in a notebook
    plot = result.plot()
    html = plot.to_html()
    assert "cdn.bokeh.org" not in html and "Bokeh" in html  # BokehJS inlined: draws offline


def test_an_interrupt_in_the_per_instance_experiments_keeps_the_instances_so_far(text64, monkeypatch):
    import importlib

    jw = importlib.import_module("attnviz.evaluate.jain_wallace")
    model, tok, explainer = text64
    real, calls = jw._intervened_probs, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the base pass and the permuted pass of instance 0, then instance 1's base pass
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(jw, "_intervened_probs", interrupted)
    before = model_state(model)
    with pytest.warns(UserWarning, match="interrupted: the result holds the 1 instances finished so far"):
        result = ev.permutation(explainer, TEXTS, n_permutations=5, progress=False)
    assert result.partial and set(result.per_instance.instance) == {0}
    assert_same_state(before, model_state(model))  # the interrupt came inside an intervention: undone
