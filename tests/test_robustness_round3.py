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
    with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
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
