"""AttnLRP against its reference implementation, lxt 2.1 (efficient variant): parity on float64 tiny decoders, and
time side by side at GPT-2-small and Llama shapes.

lxt is NOT a dependency of attnviz: it is imported from a separate folder (``--lxt-site``, default /tmp/lxt/site) in a
subprocess only, because it patches transformers (and torch.nn.LayerNorm / Dropout) process-wide and for good. Install
it there with

    pip download lxt==2.1 --no-deps -d /tmp/lxt
    pip install --no-deps --target /tmp/lxt/site /tmp/lxt/lxt-2.1.tar.gz

lxt 2.1 imports only with transformers < 5. Under transformers 5 this bench applies three shims, none of which
touches the numbers (docs/METHODS.md, AttnLRP §8): (1) the helper ``transformers.pytorch_utils.
find_pruneable_heads_and_indices`` that lxt's BERT file imports (removed in transformers 5) is injected as a stub
that raises if called; (2) after ``patch_attention`` the modeling module's ``ALL_ATTENTION_FUNCTIONS`` is again an
``AttentionInterface`` registry (holding lxt's wrapped functions) instead of the plain dict lxt leaves, which has no
``get_interface``; (3) torchvision (imported by lxt's ViT map, unused here) is stubbed by a placeholder module.
Mistral is not in lxt 2.1's DEFAULT_MAP: its map is the Llama map with the Mistral classes (lxt's documented route).

1. parity: tiny seeded float64 models (``attnviz.testing.tiny_model`` gpt2 / llama / qwen3 with 4 heads, 2 key/value
   heads, hidden 64, 2 blocks; Qwen2 and Mistral of the same shape built from their configs), saved with
   ``save_pretrained`` so both processes load identical weights. attnviz (this process): ``Explainer(model, tok).
   explain(TEXT).map("attnlrp")``, the next-token logit at the last position, target = the model's argmax. lxt (a
   subprocess): METHODS §2, ``emb = get_input_embeddings()(ids)`` as the leaf, ``logits[0, -1, argmax].backward()``,
   ``R = (emb * emb.grad).sum(-1)`` (GPT-2: the position embeddings are added inside the model, so not in R). Prints
   max|a - b| / max|b| per model; passes at <= 1e-5.
2. timing: GPT-2 small (12 blocks x 12 heads, d 768, vocab 50257) and a Llama-shaped model (12 blocks, d 768, 12
   heads, 4 key/value heads, intermediate 2048, vocab 32000), random weights (seed 0), float32, eager attention, at
   256 and 1,024 tokens. Medians over interleaved rounds after one warm-up round, CPU time of the measuring process
   by default (``--clock process``: steady on a machine shared with other jobs; ``--clock wall`` for elapsed time):
   - this process: plain forward+backward (the explained logit's gradient to the input embeddings, no parameter
     gradients, unpatched model); attnviz's capture (``explain``; not with --quick); attnviz's ``map("attnlrp")``
     given the capture (the explanation's caches cleared before each call: AttnLRP's own forward + backward, the
     capture excluded);
   - the lxt subprocess (same seed, so the same weights; same token ids and target): the same plain
     forward+backward before anything is patched (the control: the two processes' baselines should agree), then
     lxt's forward+backward after ``monkey_patch`` (parameters frozen, as lxt's examples do).
   Ratios are to the plain forward+backward of the same process; the last row of a case is attnviz's map time over
   lxt's (across the two processes).

    PYTHONPATH=. python bench/attnlrp_lxt.py            # parity + timing at 256 and 1,024 tokens
    PYTHONPATH=. python bench/attnlrp_lxt.py --quick    # parity + timing at 256 tokens, 3 repeats (~3-4 min)
    PYTHONPATH=. python bench/attnlrp_lxt.py --parity-only
    PYTHONPATH=. python bench/attnlrp_lxt.py --threads 2 --repeats 5
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
import warnings
from functools import partial
from pathlib import Path

import torch

ROOT = __file__.rsplit("/bench/", 1)[0]
sys.path.insert(0, ROOT)

TEXT = "the cat sat on the mat near the door and the movie was"  # 12 to 13 tokens on the tiny tokenizers
PARITY_MODELS = ("gpt2", "llama", "qwen3", "qwen2", "mistral")
TOLERANCE = 1e-5
WORDS = 2000
WORK = Path(tempfile.gettempdir()) / "attnviz_attnlrp_lxt"


# ---------------------------------------------------------------------------------------------------------------
# Shared by both processes (no attnviz import here: the lxt subprocess imports torch, transformers and lxt only)


def large_model(kind: str, dtype: torch.dtype = torch.float32):
    """GPT-2 small or a Llama-shaped model (see the docstring), random weights, seed 0, eval, eager attention."""
    import transformers as tf

    torch.manual_seed(0)
    if kind == "gpt2":
        config = tf.GPT2Config(initializer_range=0.2)
        model = tf.GPT2LMHeadModel(config)
    else:
        config = tf.LlamaConfig(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
                                num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048,
                                initializer_range=0.2)
        model = tf.LlamaForCausalLM(config)
    model.config._attn_implementation = "eager"
    return model.to(dtype).eval()


def plain_fn(model, ids: torch.Tensor, target: int):
    """One forward+backward of logit[-1, target] to the input embeddings (no parameter gradients), unpatched."""
    embed = model.get_input_embeddings()

    def run():
        x = embed(ids).detach().requires_grad_(True)
        logit = model(inputs_embeds=x, use_cache=False).logits[0, -1, target]
        torch.autograd.grad(logit, x)
    return run


CLOCKS = {"process": time.process_time, "wall": time.perf_counter}


def medians(fns: dict, repeats: int, clock: str = "process") -> dict[str, float]:
    """Median seconds of each fn over ``repeats`` interleaved rounds after one warm-up round; clock "process" (this
    process's CPU time, all its threads) or "wall"."""
    import statistics

    now = CLOCKS[clock]
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(repeats + 1):
        for name, fn in fns.items():
            start = now()
            fn()
            if round_:
                times[name].append(now() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# ---------------------------------------------------------------------------------------------------------------
# lxt side (subprocess only)


def quiet() -> None:
    """No progress bars or warnings from transformers (weights loading / saving)."""
    import transformers

    warnings.simplefilter("ignore")
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


_PATCHED: dict[str, str] = {}


def import_lxt(site: str):
    """lxt.efficient from ``site`` with the three non-numerical shims for transformers 5 (see the docstring)."""
    if site not in sys.path:
        sys.path.insert(0, site)
    import transformers.pytorch_utils as pu

    if not hasattr(pu, "find_pruneable_heads_and_indices"):  # shim 1: imported by lxt's BERT file only
        def find_pruneable_heads_and_indices(*_args, **_kwargs):
            raise NotImplementedError("shim for lxt's import under transformers 5; not used for decoders")
        pu.find_pruneable_heads_and_indices = find_pruneable_heads_and_indices
    try:
        import torchvision  # noqa: F401
    except Exception:  # shim 3: lxt's ViT map imports torchvision.models.vision_transformer (uses only .nn)
        for name in ("torchvision", "torchvision.models", "torchvision.models.vision_transformer"):
            sys.modules.pop(name, None)
        tv, tvm, vit = (types.ModuleType(n) for n in ("torchvision", "torchvision.models",
                                                        "torchvision.models.vision_transformer"))
        vit.nn = torch.nn  # type: ignore[attr-defined]
        tv.models, tvm.vision_transformer = tvm, vit  # type: ignore[attr-defined]
        sys.modules.update({"torchvision": tv, "torchvision.models": tvm, "torchvision.models.vision_transformer": vit})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "'zennit' library is not available" (only for vision transformers)
        import lxt
        import lxt.efficient
    return lxt


def lxt_patch(model, site: str) -> str:
    """Apply lxt's AttnLRP patch map for the model's family (process-wide, permanent); returns lxt's version."""
    module = sys.modules[type(model).__module__]  # transformers.models.<type>.modeling_<type>
    if module.__name__ in _PATCHED:
        return _PATCHED[module.__name__]
    lxt = import_lxt(site)
    assert lxt.__file__.startswith(site), f"lxt imported from {lxt.__file__}, not from {site}"
    from importlib.metadata import version

    from lxt.efficient import monkey_patch, patches
    from transformers.modeling_utils import AttentionInterface

    model_type = model.config.model_type
    patch_map = None
    if model_type == "mistral":  # not in lxt 2.1's DEFAULT_MAP: the Llama map with Mistral's classes
        patch_map = {module.MistralMLP: partial(patches.patch_method, patches.gated_mlp_forward),
                     module.MistralRMSNorm: partial(patches.patch_method, patches.rms_norm_forward),
                     torch.nn.Dropout: partial(patches.patch_method, patches.dropout_forward),
                     module: patches.patch_attention}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkey_patch(module, patch_map)
    registry = module.ALL_ATTENTION_FUNCTIONS
    if not hasattr(registry, "get_interface"):  # shim 2: keep a registry object (with lxt's wrapped functions)
        kept = AttentionInterface()
        kept._local_mapping.update(dict(registry))
        module.ALL_ATTENTION_FUNCTIONS = kept
    assert module.eager_attention_forward.__module__ == "lxt.efficient.patches", "lxt's attention wrapper missing"
    try:
        _PATCHED[module.__name__] = version("lxt")
    except Exception:
        _PATCHED[module.__name__] = getattr(lxt, "__version__", "?")
    return _PATCHED[module.__name__]


def lxt_relevance(model, ids: torch.Tensor, target: int | None = None) -> tuple[torch.Tensor, int, float]:
    """lxt's relevance as its docs and examples read it (METHODS §2) on a patched model: (R [N], target, logit);
    target None: the argmax at the last position."""
    for p in model.parameters():
        p.requires_grad = False
    emb = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    logits = model(inputs_embeds=emb, use_cache=False).logits
    target = int(logits[0, -1].argmax()) if target is None else target
    logit = logits[0, -1, target]
    logit.backward()
    return (emb * emb.grad).sum(-1)[0].detach(), target, float(logit)


def worker(args) -> None:
    """The lxt subprocess: every parity model, or every timing case, in one process (importing transformers costs
    ~10-20 s on a busy machine). Each family patches its own modeling module; the only classes two families share
    are torch.nn.Dropout (the identity in eval mode either way) and torch.nn.LayerNorm (GPT-2's; the Llama family
    has none). Timing: every case's plain control runs before anything is patched."""
    torch.set_num_threads(args.threads)
    quiet()
    job = json.loads(Path(args.worker).read_text())
    out: dict = {"transformers": __import__("transformers").__version__}
    if job["mode"] == "parity":
        from transformers import AutoModelForCausalLM

        out["models"] = []
        for case in job["models"]:
            model = AutoModelForCausalLM.from_pretrained(case["dir"], dtype=torch.float64, attn_implementation="eager")
            out["lxt"] = lxt_patch(model.eval(), args.lxt_site)
            R, target, logit = lxt_relevance(model, torch.tensor([case["ids"]]))
            out["models"].append(dict(R=R.tolist(), target=target, logit=logit))
    else:
        models = [large_model(case["kind"]) for case in job["cases"]]
        out["plain"] = [medians({"plain": plain_fn(model, torch.tensor([case["ids"]]), case["target"])},
                                job["repeats"], job["clock"])["plain"] for model, case in zip(models, job["cases"])]
        out["lxt_time"] = []
        for model, case in zip(models, job["cases"]):
            out["lxt"] = lxt_patch(model, args.lxt_site)
            run = partial(lxt_relevance, model, torch.tensor([case["ids"]]), case["target"])
            out["lxt_time"].append(medians({"lxt": run}, job["repeats"], job["clock"])["lxt"])
    Path(job["out"]).write_text(json.dumps(out))


def run_worker(job: dict, args) -> dict:
    WORK.mkdir(parents=True, exist_ok=True)
    job_file = WORK / f"job_{os.getpid()}.json"
    job["out"] = str(WORK / f"out_{os.getpid()}.json")
    job_file.write_text(json.dumps(job))
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": str(args.threads)}
    proc = subprocess.run([sys.executable, __file__, "--worker", str(job_file), "--lxt-site", args.lxt_site,
                           "--threads", str(args.threads)], env=env, capture_output=True, text=True)
    job_file.unlink()
    if proc.returncode:
        raise RuntimeError(f"lxt subprocess failed:\n{proc.stderr[-4000:]}")
    out_file = Path(job["out"])
    result = json.loads(out_file.read_text())
    out_file.unlink()
    return result


# ---------------------------------------------------------------------------------------------------------------
# attnviz side (this process: never patched)


def tiny(arch: str):
    """(model, tokenizer): the float64 tiny model of ``arch``; Qwen2 / Mistral from their configs with the tiny
    Llama's tokenizer and shape."""
    import transformers as tf

    from attnviz.testing import tiny_model

    shape = dict(task="next_token", heads=4, kv_heads=2, hidden=64, layers=2)
    if arch in ("gpt2", "llama", "qwen3"):
        model, tok = tiny_model(arch, **shape)
    else:
        _, tok = tiny_model("llama", **shape)
        common = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      initializer_range=0.2, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      tie_word_embeddings=False)
        torch.manual_seed(0 if arch == "qwen2" else 1)  # seed 1: Mistral's weights differ from the tiny Llama's
        if arch == "qwen2":  # q, k, v biases; torch's default init leaves them zero, so give them values
            model = tf.Qwen2ForCausalLM(tf.Qwen2Config(**common))
            with torch.no_grad():
                for layer in model.model.layers:
                    for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                        proj.bias.normal_(0, 0.2)
        else:
            model = tf.MistralForCausalLM(tf.MistralConfig(**common))
    return model.double().eval(), tok


def parity(args) -> bool:
    from transformers import AutoModelForCausalLM

    from attnviz import Explainer

    rows, cases = [], []
    for arch in args.models:
        model, tok = tiny(arch)
        folder = WORK / f"tiny_{arch}"
        model.save_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float64, attn_implementation="eager").eval()
        e = Explainer(model, tok).explain(TEXT)
        ours = torch.as_tensor(e.map("attnlrp"), dtype=torch.float64)
        ids = e.model_inputs["input_ids"][0].tolist()
        with torch.no_grad():
            target = int(model(input_ids=torch.tensor([ids]), use_cache=False).logits[0, -1].argmax())
        rows.append((arch, ours, target))
        dtype = e.map("attnlrp").dtype
        cases.append({"dir": str(folder), "ids": ids})
    result = run_worker({"mode": "parity", "models": cases}, args)
    print(f"parity: attnviz map('attnlrp') (this process) vs lxt {result['lxt']} (a subprocess), float64 tiny models "
          f"loaded from the same save_pretrained folder, text {TEXT!r}, last position, argmax target")
    print(f"{'model':8} {'N':>3} {'target':>6} {'logit':>9} {'sum R attnviz':>14} {'sum R lxt':>12} "
          f"{'max|a-b|':>9} {'max rel err':>11} {'|a-f32(b)|':>10}  pass (<= {TOLERANCE:g})")
    ok = True
    for (arch, ours, target), theirs_out in zip(rows, result["models"]):
        theirs = torch.tensor(theirs_out["R"], dtype=torch.float64)
        err = float((ours - theirs).abs().max())
        rel = err / float(theirs.abs().max())
        err32 = float((ours - theirs.float().double()).abs().max())  # 0: equal to lxt's value rounded to float32
        same_target = theirs_out["target"] == target
        passed = rel <= TOLERANCE and same_target and ours.shape == theirs.shape
        ok &= passed
        print(f"{arch:8} {len(ours):3d} {target:6d} {theirs_out['logit']:9.4f} {float(ours.sum()):14.7f} "
              f"{float(theirs.sum()):12.7f} {err:9.2e} {rel:11.2e} {err32:10.1e}  {'PASS' if passed else 'FAIL'}"
              + ("" if same_target else f" (lxt's target {theirs_out['target']})"))
    print(f"(attnviz's map comes back as {dtype}; |a-f32(b)| = 0 means it is lxt's float64 value rounded to "
          f"float32, so the error above is that rounding alone)\n")
    return ok


def word_tokenizer():
    """A word-level fast tokenizer over w0 .. w1999 (one token per word, no special tokens added)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<|endoftext|>": 0, **{f"w{i}": i + 1 for i in range(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", model_max_length=2048)


def attnviz_times(kind: str, tokens: int, args) -> tuple[dict[str, float], dict]:
    """This process's rows for one case, and the case for the lxt subprocess (same model, token ids, target)."""
    from attnviz import Explainer

    model = large_model(kind)
    text = " ".join(f"w{(7 * i) % WORDS}" for i in range(tokens))
    explainer = Explainer(model, word_tokenizer())
    e = explainer.explain(text)
    assert e.num_tokens == tokens, (e.num_tokens, tokens)
    ids = e.model_inputs["input_ids"]
    with torch.no_grad():
        target = int(model(input_ids=ids, use_cache=False).logits[0, -1].argmax())

    def attnlrp_given_capture():
        e._cache.clear()
        e.diagnostics.pop("lrp", None)
        e.map("attnlrp")

    rows = {"plain forward+backward": plain_fn(model, ids, target),
            "attnviz capture (explain)": lambda: explainer.explain(text),
            "attnviz map('attnlrp') given the capture": attnlrp_given_capture}
    if args.quick:
        del rows["attnviz capture (explain)"]
    times = medians(rows, args.repeats, args.clock)
    return times, {"kind": kind, "ids": ids[0].tolist(), "target": target}


def timing(args) -> None:
    lengths = (256,) if args.quick else (256, 1024)
    names = {"gpt2": "GPT-2 small", "llama": "Llama-like"}
    runs, cases = [], []
    start = time.perf_counter()
    for kind in ("gpt2", "llama"):
        for tokens in lengths:
            times, case = attnviz_times(kind, tokens, args)
            runs.append((names[kind], tokens, times))
            cases.append(case)
    mid = time.perf_counter()
    theirs = run_worker({"mode": "timing", "cases": cases, "repeats": args.repeats, "clock": args.clock}, args)
    print(f"timing: float32, eager attention, CPU, {args.threads} thread(s), {args.clock} clock, medians of "
          f"{args.repeats} interleaved "
          f"rounds after a warm-up; ratio = time / plain forward+backward of the same process (attnviz's rows: this "
          f"process; lxt's: its subprocess, lxt {theirs['lxt']})")
    print(f"{'model':11} {'tokens':>6}  {'what':42} {'median ms':>10} {'ratio':>6}")
    for (name, tokens, times), plain, lxt_time in zip(runs, theirs["plain"], theirs["lxt_time"]):
        base = times["plain forward+backward"]
        rows = [(what, t, t / base) for what, t in times.items()]
        rows += [("lxt process: plain forward+backward", plain, 1.0),
                 ("lxt process: lxt forward+backward", lxt_time, lxt_time / plain),
                 ("attnviz map / lxt (cross-process)", times["attnviz map('attnlrp') given the capture"] / lxt_time,
                  None)]
        for what, value, ratio in rows:
            if ratio is None:
                print(f"{name:11} {tokens:6d}  {what:42} {'':>10} {value:6.2f}")
            else:
                print(f"{name:11} {tokens:6d}  {what:42} {value * 1e3:10.1f} {ratio:6.2f}")
        print()
    print(f"(attnviz rows took {mid - start:.0f} s, the lxt subprocess {time.perf_counter() - mid:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="timing at 256 tokens only, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timing rounds after the warm-up (default 5; 3 "
                        "with --quick)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads in both processes (default 1)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="process",
                        help="process: CPU time of the measuring process (steady on a machine shared with other jobs; "
                             "with --threads 1 it is single-core compute time); wall: elapsed time")
    parser.add_argument("--parity-only", action="store_true")
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--models", nargs="+", default=list(PARITY_MODELS), choices=PARITY_MODELS)
    parser.add_argument("--lxt-site", default="/tmp/lxt/site", help="folder holding the lxt 2.1 package")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.worker:
        return worker(args)
    torch.set_num_threads(args.threads)
    quiet()
    import transformers

    import attnviz

    if not Path(args.lxt_site, "lxt").is_dir():
        sys.exit(f"lxt not found in {args.lxt_site}: see the docstring for how to install it there")
    print(f"attnviz AttnLRP vs lxt 2.1 -- {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"attnviz {getattr(attnviz, '__version__', '?')} ({ROOT}), lxt from {args.lxt_site}\n")
    ok = True
    if not args.timing_only:
        ok = parity(args)
    if not args.parity_only:
        timing(args)
    if not ok:
        sys.exit("parity FAILED")


if __name__ == "__main__":
    main()
