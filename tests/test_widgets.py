"""Widgets without a kernel: traits, validation, and the bytes each view sends (decoded back and compared with the
engine's numbers). The front end's own tests are in js/test (vitest); browser tests are marked `browser`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import traitlets
from conftest import SENTENCE, sample_image
from ipywidgets.widgets.widget import _remove_buffers

import attnviz
from attnviz.testing import tiny_model
from attnviz.widgets import AttentionView, CompareView, ImageView, TextView, decode, encode, show

XSS = "<img src=x onerror=alert(1)>"
REPO = Path(__file__).resolve().parent.parent


def close_to(sent: np.ndarray, exact: np.ndarray, scale: float = 1.0) -> None:
    """float16 tolerance: 2^-11 relative, plus float16's smallest step (2^-24) times the tensor's scale."""
    np.testing.assert_allclose(sent, exact, rtol=2.0 ** -10, atol=scale * 2.0 ** -23)


def explain(arch: str, x=None, **model_kw):
    model, proc = tiny_model(arch, **model_kw)
    return attnviz.Explainer(model, proc).explain(x if x is not None else (SENTENCE if arch not in ("vit", "deit")
                                                                          else sample_image()))


@pytest.fixture(scope="module")
def pair():
    return explain("bert", ("the movie was unbelievably charming", "a boring mess"))


@pytest.fixture(scope="module")
def vit():
    return explain("vit")


def recorder(view):
    """Capture the update messages a view would send to the front end (ipywidgets' echo_update messages, which
    only confirm what the browser sent, are left out)."""
    sent = []
    view._send = lambda msg, buffers=None: sent.append((msg, buffers or [])) if msg["method"] == "update" else None
    return sent


def sent_tensor(msg, buffers, name):
    """Rebuild a tensor trait from an update message: JSON state + binary buffer at its buffer path."""
    tensor = dict(msg["state"][name])
    for path, buf in zip(msg["buffer_paths"], buffers):
        if path[0] == name:
            tensor[path[1]] = bytes(buf)
    return decode(tensor)


# ---------------------------------------------------------------- wire
def test_encode_decode_roundtrip_and_scale():
    x = np.array([[1e-6, -3e-4], [2.5e-3, 0.0]], np.float32)
    t = encode(x)
    assert t["dtype"] == "float16" and t["shape"] == [2, 2] and len(t["buffer"]) == 8
    assert t["scale"] == 2.0 ** -8  # 2.5e-3 / 2^-8 = 0.64 in [0.5, 1)
    close_to(decode(t), x, t["scale"])
    assert encode(np.zeros(3))["scale"] == 1.0
    img = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert np.array_equal(decode(encode(img, "uint8")), img)
    with pytest.raises(TypeError):
        encode(img.astype(np.float32), "uint8")


def test_encoding_matches_the_js_codec_fixture():
    """js/test/codec.test.js decodes these bytes; encode() must produce exactly them."""
    import base64

    fixtures = json.loads((REPO / "js" / "test" / "fixtures" / "python_tensors.json").read_text())
    half = fixtures["half"]
    values = np.array([np.inf if v == "inf" else v for v in half["expected"]], np.float32)
    assert encode(values, scale=1.0)["buffer"] == base64.b64decode(half["b64"])
    scaled = fixtures["scaled"]
    t = encode(np.array(scaled["expected"], np.float32))
    assert t["scale"] == scaled["scale"] and t["buffer"] == base64.b64decode(scaled["b64"])
    f32 = fixtures["float32"]
    assert encode(np.array(f32["expected"], np.float32).reshape(f32["shape"]), "float32")["buffer"] == \
        base64.b64decode(f32["b64"])


@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert"])
def test_text_maps_sent_as_float16_bytes_match_engine(arch):
    e = explain(arch)
    v = TextView(e)
    t = v.maps
    assert t["dtype"] == "float16" and t["shape"] == [e.num_layers, e.num_tokens]
    assert isinstance(t["buffer"], bytes) and len(t["buffer"]) == 2 * e.num_layers * e.num_tokens
    close_to(decode(t), e.maps("gae"), t["scale"])
    assert v.units == e.tokens and v.unit_special == [bool(s) for s in e.special]
    assert v.layer == e.num_layers - 1 and v.target == e.target and v.predicted == e.predicted
    np.testing.assert_allclose(decode(v.probs), e.probs, rtol=1e-6)


def test_multi_label_models_say_so_to_the_header():
    model, proc = tiny_model("vit", num_labels=3)
    single = attnviz.Explainer(model, proc).explain(sample_image())
    assert not ImageView(single).multi_label and not CompareView(single).multi_label
    model.config.problem_type = "multi_label_classification"
    multi = attnviz.Explainer(model, proc).explain(sample_image())
    assert ImageView(multi).multi_label and CompareView(multi).multi_label
    np.testing.assert_allclose(decode(ImageView(multi).probs), multi.probs, rtol=1e-6)  # sigmoids, not a softmax
    assert abs(float(multi.probs.sum()) - 1.0) > 1e-3


def test_state_carries_tensors_as_buffers_not_json_numbers(pair):
    v = TextView(pair)
    state, paths, buffers = _remove_buffers(v.get_state())
    assert ["maps", "buffer"] in paths and ["probs", "buffer"] in paths
    text = json.dumps(state)
    assert not re.search(r"(-?\d+\.\d+\s*,\s*){8,}", text), "a list of numbers went into the JSON state"
    assert sum(len(b) for b in buffers) == 2 * pair.num_layers * pair.num_tokens + 4 * len(pair.label_names)


def test_pair_units_and_segments(pair):
    v = TextView(pair)
    assert v.unit_segments == [int(s) for s in pair.segments]
    assert set(v.unit_segments) == {0, 1}


# ---------------------------------------------------------------- kernel answers
def test_head_toggle_is_answered_by_the_kernel_with_new_bytes(pair):
    v = TextView(pair, method="gae")
    sent = recorder(v)
    before = v.maps["buffer"]
    mask = [[True] * pair.num_heads for _ in range(pair.num_layers)]
    mask[0][1] = False
    v.set_state({"heads": mask})  # what a click in the head grid sends
    assert len(sent) == 1, "one update message per answer"
    msg, buffers = sent[0]
    assert msg["method"] == "update" and msg["state"]["revision"] == 2
    maps = sent_tensor(msg, buffers, "maps")
    close_to(maps, pair.maps("gae", heads=np.array(mask)), v.maps["scale"])
    assert v.maps["buffer"] != before


def test_class_switch_changes_the_buffers(pair):
    v = TextView(pair, method="gae")
    before = v.maps["buffer"]
    other = 1 - pair.target
    v.set_state({"target": other})
    assert v.maps["buffer"] != before
    close_to(decode(v.maps), pair.maps("gae", target=other), v.maps["scale"])
    v.target = pair.label_names[pair.target]  # a label name works from Python
    assert v.target == pair.target


def test_method_switch_sets_signed_and_uses_heads(pair):
    v = TextView(pair)
    v.set_state({"method": "attcat"})
    assert v.signed is True and v.uses_heads is True
    close_to(decode(v.maps), pair.maps("attcat"), v.maps["scale"])
    v.method = "grad_input"
    assert v.signed is True and v.uses_heads is False
    v.method = "rollout"
    assert v.signed is False and v.error == ""


def test_layer_is_answered_in_the_browser(pair):
    v = TextView(pair)
    sent = recorder(v)
    rev = v.revision
    v.set_state({"layer": 0})
    assert v.revision == rev and sent == [], "the slider must not make the kernel recompute or send"


def test_word_level_aggregation(pair):
    v = TextView(pair, method="rollout", word_level=True)
    words, _, segs = pair.words(pair.map("rollout"))
    assert v.units == words and v.unit_segments == segs
    expected = np.stack([pair.words(r)[1] for r in pair.maps("rollout")])
    close_to(decode(v.maps), expected, v.maps["scale"])
    v.word_level = False
    assert v.units == pair.tokens


def test_errors_are_shown_not_raised(pair, monkeypatch):
    v = TextView(pair)
    monkeypatch.setattr(pair, "maps", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    rev = v.revision
    v.method = "rollout"
    assert v.error == "RuntimeError: boom" and v.revision == rev + 1


# ---------------------------------------------------------------- validation
def test_unknown_keyword_is_a_clear_error(pair):
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'colour'.*accepts: method"):
        TextView(pair, colour="red")
    with pytest.raises(TypeError, match="unexpected"):
        AttentionView(pair, method="gae")


@pytest.mark.parametrize(("name", "value", "match"), [
    ("layer", "x", "expected an int"),
    ("layer", 7, r"layer must be in \[0, 1\]"),
    ("method", "nope", "unknown method 'nope'"),
    ("target", 5, "out of range"),
    ("target", "nope", "unknown label"),
    ("heads", [[True, False, True]], r"heads must be a boolean mask of shape \[2, 2\] \(or \[2\] for every block\)"),
    ("heads", [[1, 0], [1, 1]], "must be booleans"),
    ("colormap", "rainbow", "colormap must be one of"),
    ("word_level", "yes", "expected a boolean"),
    ("options", [1], "expected a dict"),
])
def test_wrong_values_raise(pair, name, value, match):
    with pytest.raises(traitlets.TraitError, match=match):
        TextView(pair, **{name: value})


def test_head_mask_forms(pair):
    v = TextView(pair, heads=[True, False])
    assert v.heads == [[True, False]] * pair.num_layers
    v.heads = np.array([[True, True], [False, True]])
    assert v.heads == [[True, True], [False, True]]
    v.layer = -1
    assert v.layer == pair.num_layers - 1


def test_views_check_the_explanation(pair, vit):
    with pytest.raises(ValueError, match="use ImageView"):
        TextView(vit)
    with pytest.raises(ValueError, match="use TextView"):
        ImageView(pair)
    with pytest.raises(TypeError, match="needs an attnviz.Explanation"):
        TextView("a sentence")
    assert isinstance(show(pair), TextView) and isinstance(show(vit), ImageView)
    assert show(pair, method="rollout").method == "rollout"


# ---------------------------------------------------------------- image
@pytest.mark.parametrize("arch", ["vit", "deit"])
def test_image_view_sends_patch_maps_and_the_image(arch):
    e = explain(arch)
    v = ImageView(e)
    gh, gw = e.patch_grid
    assert v.maps["shape"] == [e.num_layers, gh, gw]
    expected = np.stack([e.patch_map(r) for r in e.maps("gae")])
    close_to(decode(v.maps), expected, v.maps["scale"])
    assert np.array_equal(decode(v.image), e.image)
    assert v.patch_grid == [gh, gw]


def test_clicking_a_patch_sends_its_attention(vit):
    v = ImageView(vit)
    p = 5
    v.set_state({"selected_patch": p})
    A = vit.attention()  # [B, H, N, N]
    q, k = vit.num_prefix_tokens + p, vit.num_prefix_tokens
    expected = A[:, :, q, k:].mean(1).reshape(vit.num_layers, *vit.patch_grid)
    assert v.attention_patch == p
    close_to(decode(v.patch_attention), expected, v.patch_attention["scale"])
    v.heads = [[True, False]] * vit.num_layers  # the head mask applies to the patch attention too
    close_to(decode(v.patch_attention), A[:, 0, q, k:].reshape(vit.num_layers, *vit.patch_grid),
             v.patch_attention["scale"])
    v.selected_patch = -1
    assert v.attention_patch == -1 and v.patch_attention["shape"] == [0]
    with pytest.raises(traitlets.TraitError, match="selected_patch must be"):
        v.selected_patch = 10_000
    with pytest.raises(traitlets.TraitError):
        v.opacity = 1.5


# ---------------------------------------------------------------- attention
def test_attention_view_sends_two_bytes_per_weight(pair):
    v = AttentionView(pair)
    A = pair.attention()
    assert v.attention["shape"] == list(A.shape) and v.attention["scale"] == 1.0
    assert len(v.attention["buffer"]) == 2 * A.size
    close_to(decode(v.attention), A)
    assert v.tokens == pair.tokens and v.mode == "head"
    sent = recorder(v)
    v.set_state({"layer": 0, "mode": "model", "heads": [[True, False], [True, True]]})
    assert v.revision == 0 and sent == [], "AttentionView answers everything in the browser"
    with pytest.raises(traitlets.TraitError):
        v.mode = "grid"
    with pytest.raises(traitlets.TraitError):
        AttentionView(pair, threshold=2)


def test_attention_view_sends_the_shown_block_first_and_the_others_on_request(pair, monkeypatch):
    """Issue 11, item 7: the first message holds the block shown and its neighbours; the browser asks for the rest."""
    from attnviz.widgets import attention as attention_module

    monkeypatch.setattr(attention_module, "FIRST_MESSAGE_BYTES", 0)  # the tiny model's tensor stands in for 512 tokens
    A = pair.attention()
    B = A.shape[0]
    v = AttentionView(pair, layer=0)
    assert v.attention_shape == list(A.shape)
    assert v.attention_blocks == [0] and v.attention["shape"] == [1, *A.shape[1:]]
    close_to(decode(v.attention), A[[0]])
    answers = []
    v.send = lambda content, buffers=None: answers.append((content, buffers))
    v._on_browser_message(v, {"event": "attention_blocks", "layers": [B - 1, -1, B, "x", True]}, [])
    assert [c for c, _ in answers] == [{"event": "attention_block", "layer": B - 1, "shape": [1, *A.shape[1:]]}]
    block = np.frombuffer(answers[0][1][0], "<f2").reshape(1, *A.shape[1:]).astype(np.float32)
    np.testing.assert_allclose(block[0], A[B - 1], atol=1e-3)
    page = v.to_html()  # the offline page holds every block: no kernel answers there
    state = json.loads(page.split('id="attnviz-state">')[1].split("</script>")[0])
    assert state["attention_blocks"] == list(range(B)) and state["attention"]["shape"] == list(A.shape)


def test_attention_view_of_a_long_context_sends_no_block_first_and_the_shown_one_on_request(pair, monkeypatch):
    """Issue 20, item 6: when one block alone is over FIRST_MESSAGE_BLOCK_BYTES (GPT-2 small at 1,024 tokens: 24 MiB),
    the first message holds the thumbnails and no block, so it stays within DESIGN.md's 8 MB at any length; the
    browser asks for the block shown as it opens."""
    from attnviz.widgets import attention as attention_module

    A = pair.attention()
    block_bytes = 2 * A[0].size
    monkeypatch.setattr(attention_module, "FIRST_MESSAGE_BYTES", 0)
    monkeypatch.setattr(attention_module, "FIRST_MESSAGE_BLOCK_BYTES", block_bytes)
    assert AttentionView(pair, layer=1).attention_blocks == [1]  # a block at the limit still goes first
    monkeypatch.setattr(attention_module, "FIRST_MESSAGE_BLOCK_BYTES", block_bytes - 1)
    v = AttentionView(pair, layer=1)
    assert v.attention_blocks == [] and v.attention["shape"] == [0, *A.shape[1:]]
    assert v.thumbnails["shape"][:2] == list(A.shape[:2])
    answers = []
    v.send = lambda content, buffers=None: answers.append((content, buffers))
    v._on_browser_message(v, {"event": "attention_blocks", "layers": [1]}, [])
    block = np.frombuffer(answers[0][1][0], "<f2").reshape(1, *A.shape[1:]).astype(np.float32)
    np.testing.assert_allclose(block[0], A[1], atol=1e-3)


def test_attention_view_sends_head_type_scores(pair):
    from attnviz.engine.head_scores import head_scores

    v = AttentionView(pair, color_heads="induction")
    expected = head_scores(pair.attention(), pair.tokens)
    for name, values in expected.items():
        np.testing.assert_allclose(decode(v.head_scores[name]), np.nan_to_num(values), rtol=1e-6)
    with pytest.raises(traitlets.TraitError, match="color_heads must be"):
        v.color_heads = "copying"


def test_attention_view_sends_thumbnails_only_when_blocks_stay_behind(monkeypatch):
    """Every block in the first message: no thumbnails (the browser pools the blocks); some blocks on demand: the
    pooled thumbnails of every block."""
    from attnviz.widgets import attention as attention_module

    e = attnviz.Explainer(*tiny_model("bert", heads=2)).explain("the movie was unbelievably charming")
    small = AttentionView(e)
    assert small.attention_blocks == list(range(e.num_layers)) and small.thumbnails["shape"] == [0]
    monkeypatch.setattr(attention_module, "FIRST_MESSAGE_BYTES", 1)
    split = AttentionView(e)
    assert split.attention_blocks == [e.num_layers - 1]
    N = e.num_tokens
    assert split.thumbnails["shape"] == [e.num_layers, e.num_heads, N, N]
    np.testing.assert_allclose(decode(split.thumbnails), e.attention(), atol=1e-3)


def test_attention_view_thumbnails_are_mean_pooled_cells():
    from attnviz.widgets.attention import pooled

    rng = np.random.default_rng(0)
    a = rng.random((2, 3, 10, 10)).astype(np.float32)
    t = pooled(a, 4)
    index = (np.arange(10) * 4) // 10
    for r in range(4):
        for c in range(4):
            cell = a[..., index == r, :][..., index == c].astype(np.float64)
            np.testing.assert_allclose(t[..., r, c], cell.mean(axis=(-1, -2)), rtol=1e-6)
    assert pooled(a, 56).shape == (2, 3, 10, 10)
    np.testing.assert_allclose(pooled(a, 56), a, rtol=1e-6)


def test_projector_scale_per_view_and_for_all_views(pair):
    """Issue 11, item 6: a ``scale`` on every view, and ``attnviz.set_options(scale=...)`` for all views after it."""
    import attnviz

    assert TextView(pair, scale=2).scale == 2.0
    previous = attnviz.set_options(scale=1.5)
    try:
        for make in (TextView, AttentionView, lambda e: CompareView(e, methods=["rollout", "gae"])):
            assert make(pair).scale == 1.5
        with pytest.raises(ValueError, match="between 0.5 and 4"):
            attnviz.set_options(scale=10)
        with pytest.raises(traitlets.TraitError):
            TextView(pair, scale=float("nan"))
    finally:
        attnviz.set_options(**previous)
    assert TextView(pair).scale == 1.0


def test_color_scale_modes_are_checked(pair):
    v = TextView(pair, color_scale="blocks")
    assert v.color_scale == "blocks"
    with pytest.raises(traitlets.TraitError):
        v.color_scale = "log"
    assert CompareView(pair, methods=["rollout", "gae"], color_scale="rank").color_scale == "rank"


# ---------------------------------------------------------------- compare
def test_compare_view_text(pair):
    v = CompareView(pair, methods=["rollout", "attcat"], scores={"rollout": 0.5, "attcat": {"aopc": 0.25}})
    assert v.kind == "text" and v.signed == [False, True] and len(v.maps) == 2
    for name, t in zip(v.methods, v.maps):
        close_to(decode(t), pair.maps(name), t["scale"])
    before = [t["buffer"] for t in v.maps]
    v.set_state({"target": 1 - pair.target})
    assert v.maps[0]["buffer"] == before[0]  # rollout is class-agnostic
    assert v.maps[1]["buffer"] != before[1]
    v.set_state({"methods": ["rollout", "attcat", "gae"]})
    assert len(v.maps) == 3 and v.error == ""
    with pytest.raises(traitlets.TraitError, match="unknown method"):
        v.methods = ["nope"]
    with pytest.raises(traitlets.TraitError, match="at least one"):
        v.methods = []
    with pytest.raises(traitlets.TraitError, match="number or a dict of numbers"):
        v.scores = {"rollout": "good"}
    v.scores = {"gae": 1}
    assert v.scores == {"gae": 1.0}


def test_compare_view_image(vit):
    v = CompareView(vit, methods=["rollout", "gae"], options={"rollout": {"start_layer": 1}})
    assert v.kind == "image" and v.maps[0]["shape"] == [vit.num_layers, *vit.patch_grid]
    expected = np.stack([vit.patch_map(r) for r in vit.maps("rollout", start_layer=1)])
    close_to(decode(v.maps[0]), expected, v.maps[0]["scale"])


# ---------------------------------------------------------------- export
@pytest.fixture(scope="module")
def xss_pair():
    model, tok = tiny_model("bert")
    model.config.id2label = {0: XSS, 1: "fine"}
    model.config.label2id = {XSS: 0, "fine": 1}
    return attnviz.Explainer(model, tok).explain(("the movie was charming", "a boring mess"))


@pytest.mark.parametrize("make", [
    lambda e: TextView(e), lambda e: AttentionView(e), lambda e: CompareView(e, methods=["rollout", "gae"]),
])
def test_to_html_is_offline_and_keeps_markup_as_text(tmp_path, xss_pair, make):
    v = make(xss_pair)
    tokens = [XSS if t == "movie" else t for t in xss_pair.tokens]
    for name in ("tokens", "units"):
        if v.has_trait(name):
            setattr(v, name, tokens)
    path = tmp_path / "view.html"
    html = v.to_html(path)
    assert path.read_text(encoding="utf-8") == html
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"https?://", html), "no network address anywhere in the page"
    assert "<img" not in html and XSS not in html, "markup from the model must be escaped in the page"
    assert "default-src 'none'" in html  # CSP: no requests, no inline handlers
    state = json.loads(re.search(r'id="attnviz-state">(.*?)</script>', html, re.S).group(1))
    assert XSS in state.get("tokens", state.get("units")) and state["_static"] is True
    assert "__b64__" in json.dumps(state)
    code = json.loads(re.search(r'id="attnviz-code">(.*?)</script>', html, re.S).group(1))
    assert "render" in code and "innerHTML" not in code


def test_image_to_html(tmp_path, vit):
    html = ImageView(vit, selected_patch=3).to_html(tmp_path / "image.html")
    state = json.loads(re.search(r'id="attnviz-state">(.*?)</script>', html, re.S).group(1))
    assert state["selected_patch"] == 3 and state["image"]["shape"] == list(vit.image.shape)


def test_png_from_the_browser_lands_in_last_png(pair):
    v = TextView(pair)
    assert v.last_png is None
    v._on_browser_message(v, {"event": "png", "name": "x.png"}, [memoryview(b"\x89PNG....")])
    assert v.last_png == b"\x89PNG...."


def test_bundles_are_built_and_text_only():
    static = REPO / "attnviz" / "static"
    for name in ("text_view", "image_view", "attention_view", "compare_view"):
        code = (static / f"{name}.js").read_text(encoding="utf-8")
        assert re.search(r"export\s*\{[^}]*as default", code), f"{name}.js must be an ES module with a default export"
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", code)
        assert not re.search(r"https?://", code), f"{name}.js must not reference the network"
    assert (static / "attnviz.css").is_file()


@pytest.mark.slow
def test_wheel_carries_the_bundles(tmp_path):
    pytest.importorskip("hatchling")
    out = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("attnviz-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("text_view", "image_view", "attention_view", "compare_view"):
        assert f"attnviz/static/{name}.js" in names
    assert "attnviz/static/attnviz.css" in names
    assert "attnviz/widgets/base.py" in names
    # the embedded demo models travel in the wheel (they are what `attnviz.demo` loads offline), and stay small
    for name in ("sentiment_finetuned.safetensors", "sentiment_probe.safetensors", "sentiment_samples.json",
                 "fashion_pairs/model.safetensors", "fashion_pairs/config.json",
                 "fashion_pairs/preprocessor_config.json", "fashion_pairs_samples.npz"):
        assert f"attnviz/demo/weights/{name}" in names, name
    assert not any(n.startswith(("tests/", "notebooks/", "js/", "bench/")) for n in names)
    assert wheel.stat().st_size <= 20 * 2**20, wheel.stat().st_size  # measured: 15.0 MiB (15,745,914 bytes)


def test_every_view_carries_a_static_picture_for_front_ends_without_widgets(pair):
    """Issue 21, item 5: the display data holds the live view, a PNG of what it shows (<= 200 kB) and readable
    text, so a saved notebook shows the picture in GitHub, nbviewer and VS Code's preview."""
    import base64

    from attnviz.widgets.base import STATIC_PNG_BYTES

    for view in (TextView(pair, method="rollout"), TextView(pair, word_level=True), AttentionView(pair, layer=0)):
        data, metadata = view._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in data
        assert "needs a notebook front end with widgets" in data["text/plain"]
        if isinstance(view, TextView):  # HTML: matplotlib takes seconds for hundreds of tokens
            snapshot = data["text/html"]
            assert len(snapshot.encode()) <= STATIC_PNG_BYTES and "image/png" not in data
            units = pair.units(view.word_level).texts
            assert snapshot.count("<span title=") == len(units)
        else:
            png = base64.b64decode(data["image/png"])
            assert png.startswith(b"\x89PNG") and 1000 < len(png) <= STATIC_PNG_BYTES
    previous = attnviz.set_options(static_fallback=False)
    try:
        data, _ = TextView(pair)._repr_mimebundle_()
        assert "image/png" not in data and "text/html" not in data
    finally:
        attnviz.set_options(**{"static_fallback": previous["static_fallback"]})
    with pytest.raises(TypeError, match="static_fallback must be True or False"):
        attnviz.set_options(static_fallback="yes")


def test_compare_view_carries_one_snapshot_per_method(pair):
    import base64

    data, _ = CompareView(pair, methods=["rollout", "gae", "attcat"])._repr_mimebundle_()
    assert data["text/html"].count('class="attnviz-static"') == 3 and "image/png" not in data
    e = attnviz.Explainer(*tiny_model("vit")).explain(np.zeros((32, 32, 3)) + 0.5)
    view = CompareView(e, methods=["rollout", "gae"])
    data, _ = view._repr_mimebundle_()
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    titles = [ax.get_title() for ax in view._static_figure().axes if ax.images]
    assert titles == ["Attention rollout (Abnar & Zuidema 2020)", "GAE (Chefer, Gur & Wolf, ICCV 2021)"]


def test_flow_view_and_head_math_carry_their_pictures():
    import base64

    e = attnviz.Explainer(*tiny_model("gpt2", heads=4)).explain("the movie was wonderful and the actors were brilliant")
    flow = attnviz.FlowView(e)
    data, _ = flow._repr_mimebundle_()
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    assert "attention flow" in flow._static_figure().axes[0].get_title(loc="left")
    data, _ = attnviz.DirectAttributionView(e)._repr_mimebundle_()  # a box: the grid's picture
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    assert "application/vnd.jupyter.widget-view+json" in data and "DirectAttributionView" in data["text/plain"]
    data, _ = attnviz.HeadMathView(e, block=1, head=0)._repr_mimebundle_()
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG") and "text/html" not in data
    assert data["text/plain"].startswith("HeadMathView: an interactive attnviz view")


def test_the_grid_views_carry_their_heatmap():
    import base64
    import warnings

    e = attnviz.Explainer(*tiny_model("gpt2", heads=4)).explain("the movie was wonderful and the actors were brilliant")
    view = attnviz.LogitLensView(e)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no glyph warnings from the tiny tokenizer's control characters
        data, _ = view._repr_mimebundle_()
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    figure = view._static_figure()
    assert figure.axes[0].get_title(loc="left").startswith(view.title)
    assert figure.axes[0].images[0].get_array().shape == (len(view.row_labels), len(view.col_labels))


def test_the_static_snapshot_escapes_token_text(monkeypatch):
    e = attnviz.Explainer(*tiny_model("gpt2", heads=2)).explain("a <b>bold</b> & 'quoted' \"word\"")
    snapshot = TextView(e)._static_html()
    assert "<b>" not in snapshot and "&lt;" in snapshot and "&amp;" in snapshot


def test_the_static_picture_draws_what_the_view_shows(pair, monkeypatch):
    """The figure follows the view's state (method, class, block, heads), and a failure to draw it never stops the
    live view (the text fallback stays)."""
    from attnviz.widgets import base

    view = TextView(pair, method="rollout", layer=0)
    snapshot = view._static_html()
    assert "rollout" in snapshot.lower() and "through block 0" in snapshot
    values = pair.map("rollout", layer=0)
    assert f'title="{values[1]:.4g}"' in snapshot
    image = ImageView(attnviz.Explainer(*tiny_model("vit")).explain(np.zeros((32, 32, 3)) + 0.5), method="rollout")
    assert "rollout" in image._static_figure().axes[0].get_title().lower()
    att = AttentionView(pair, layer=1, heads={1: [0]})
    title = att._static_figure().axes[0].get_title()
    assert "block 1" in title and "heads 0" in title
    monkeypatch.setattr(TextView, "_static_html", lambda self: 1 / 0)
    data, _ = TextView(pair)._repr_mimebundle_()
    assert "text/html" not in data and "application/vnd.jupyter.widget-view+json" in data
    monkeypatch.setattr(AttentionView, "_static_figure", lambda self: 1 / 0)
    assert base.static_png(AttentionView(pair)) is None


def test_the_ipywidgets7_stack_is_installed_in_ci():
    """scripts/setup.sh builds .venv-widgets7 (classic Notebook 6.5 + ipywidgets 7.7.1, and JupyterLab 3.6) for
    tests/browser/test_widgets7.py, which skips without it: in CI a missing venv fails here instead."""
    import os

    venv = Path(__file__).resolve().parents[1] / ".venv-widgets7"
    if os.environ.get("CI"):
        assert (venv / "bin" / "python").exists() and (venv / "lab3" / "bin" / "python").exists()
