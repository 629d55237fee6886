"""Language-model benchmark: a GPT-2-small-sized decoder (12 blocks x 12 heads, d 768, random weights, no hub) at
256 and 1,024 tokens.

1. engine: attnviz's capture (eager forward with hooks + one backward of the next-token logit at the last position)
   and each method's extra time, against one plain forward+backward of the same logit (the model's own attention,
   parameter gradients), medians of interleaved rounds, with ratios;
2. payload: AttentionView's first message (JSON + binary buffers: the block shown and its neighbours as float16,
   pooled thumbnails) and its front-end bundle, side by side with CircuitsVis 1.43.3 for the same attention: the
   ``attention_patterns`` HTML of one block (the teacher's loop renders one per block), offline (its inlined
   script: what a notebook without internet gets) and online (the CDN variant: data only, script from unpkg), and
   the time it takes to build;
3. with --lab: display -> first draw of AttentionView and TextView in JupyterLab through a real kernel and
   websocket (bench/widgets.py's harness).

    python bench/language.py            # engine + payload (a few minutes on 2 cores)
    python bench/language.py --lab      # also JupyterLab display -> first draw
    python bench/language.py --lab-only
    python bench/language.py --lean         # also the lean capture against today's (bench/lean_capture.py)
    python bench/language.py --attnlrp      # also AttnLRP against lxt 2.1 (bench/attnlrp_lxt.py, needs lxt)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from attnviz import Explainer  # noqa: E402
from attnviz.widgets import AttentionView  # noqa: E402
from attnviz.widgets.base import STATIC  # noqa: E402
from bench.common import interleaved_medians  # noqa: E402
from bench.widgets import display_times, lab_notebook, message_bytes, table  # noqa: E402

WORDS = 2000
METHODS = ("raw", "rollout", "gae", "attcat", "grad_input", "chefer")


def word_tokenizer():
    """A word-level fast tokenizer over w0 .. w1999 (one token per word, no special tokens added) with an
    end-of-text token, as GPT-2's tokenizer has no padding."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<|endoftext|>": 0, **{f"w{i}": i + 1 for i in range(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", model_max_length=1024)


def gpt2_small(tokens: int):
    """(model, tokenizer, text): GPT2LMHeadModel(GPT2Config()) (GPT-2 small's shape, random weights, seed 0,
    initializer_range 0.2 for peaked attention as trained models have) and a text of exactly ``tokens`` tokens."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(initializer_range=0.2)).eval()
    text = " ".join(f"w{(7 * i) % WORDS}" for i in range(tokens))
    return model, word_tokenizer(), text


def engine(tokens: int, repeats: int) -> list[tuple[str, str]]:
    model, tok, text = gpt2_small(tokens)
    explainer = Explainer(model, tok)
    e = explainer.explain(text)
    assert e.num_tokens == tokens, e.num_tokens
    inputs = e.model_inputs
    target, position = e.target, e.position

    def plain():
        model.zero_grad(set_to_none=True)
        model(**inputs, use_cache=False).logits[0, position, target].backward()

    embed = model.transformer.wte

    def plain_inputs():  # the same pass with gradients to the input embeddings only, none to the parameters
        x = embed(inputs["input_ids"]).detach().requires_grad_(True)
        out = model(inputs_embeds=x, attention_mask=inputs["attention_mask"], use_cache=False)
        torch.autograd.grad(out.logits[0, position, target], x)

    fns = {"plain forward+backward (the model's attention, parameter gradients)": plain,
           "plain forward+backward, gradients to the input embeddings only": plain_inputs,
           "attnviz capture (eager forward + hooks + one backward)": lambda: explainer.explain(text)}
    for name in METHODS:
        def run(name=name):
            e._cache.clear()
            e.diagnostics.pop("lrp", None)
            e.maps(name)
        fns[f"  + {name}"] = run
    medians = interleaved_medians(fns, repeats)
    model.zero_grad(set_to_none=True)
    base = medians[next(iter(fns))]
    return [(name, f"{t * 1000:,.0f} ms  ({t / base:.2f}x plain)") for name, t in medians.items()]


def payload(tokens: int) -> tuple[list[tuple[str, str]], object]:
    import circuitsvis
    from circuitsvis.attention import attention_patterns

    model, tok, text = gpt2_small(tokens)
    e = Explainer(model, tok).explain(text)
    A = torch.as_tensor(e.attention())  # [B, H, N, N]
    view = AttentionView(e)
    js, binary = message_bytes(view, [k for k in view.keys if not k.startswith("_")])
    bundle = (STATIC / "attention_view.js").stat().st_size + (STATIC / "attnviz.css").stat().st_size
    start = time.perf_counter()
    html = attention_patterns(tokens=e.tokens, attention=A[0])
    build = time.perf_counter() - start
    local, cdn = len(html.local_src.encode()), len(html.cdn_src.encode())
    B = A.shape[0]
    mib = 2 ** 20
    rows = [
        ("attention weights B*H*N*N", f"{A.numel():,} ({B} blocks)"),
        ("attnviz AttentionView first message (JSON + buffers)",
         f"{(js + binary) / mib:.2f} MiB: {len(view.attention_blocks)} of {B} blocks + thumbnails; the other "
         f"blocks on demand, {2 * A[0].numel() / mib:.2f} MiB each"),
        ("attnviz front end (bundle + CSS, once per view)", f"{bundle / mib:.2f} MiB"),
        ("attnviz all blocks, as the slider reaches them", f"{2 * A.numel() / mib:.1f} MiB (float16)"),
        (f"CircuitsVis {circuitsvis.__version__} attention_patterns, one block, offline",
         f"{local / mib:.2f} MiB per cell; x {B} blocks = {B * local / mib:.1f} MiB"),
        ("  of which its inlined script", f"{(local - cdn) / mib:.2f} MiB (in every cell)"),
        ("CircuitsVis, one block, online (CDN script)", f"{cdn / mib:.2f} MiB per cell; x {B} = "
                                                       f"{B * cdn / mib:.1f} MiB; needs unpkg.com"),
        ("  building one block's HTML in Python", f"{build * 1000:,.0f} ms (x {B} = {B * build:.1f} s)"),
    ]
    return rows, e


LAB_SETUP = """
import sys
sys.path.insert(0, {repo!r})
from attnviz import AttentionView, Explainer, TextView
from bench.language import gpt2_small
explanations = {{}}
for n in {tokens!r}:
    model, tok, text = gpt2_small(n)
    explanations[n] = Explainer(model, tok).explain(text)
"""


def lab(token_counts: tuple[int, ...], repeats: int) -> list[tuple[str, str]]:
    """Display -> first draw through JupyterLab, as bench/widgets.py's --lab (median of repeats)."""
    repo = str(Path(__file__).resolve().parents[1])
    views = [(kind, code) for n in token_counts for kind, code in
             (("attention", f"AttentionView(explanations[{n}], layer=3)"),
              ("text", f"TextView(explanations[{n}], method='rollout')"))]
    rows = []
    with lab_notebook([LAB_SETUP.format(repo=repo, tokens=token_counts), *[code for _, code in views]],
                      "bench-language") as (page, nb):
        for k, (kind, code) in enumerate(views, start=1):
            times = display_times(page, nb, k, kind, repeats)
            rows.append((code, f"display -> first draw median {statistics.median(times):.0f} ms "
                               f"(min {min(times):.0f}, max {max(times):.0f}, {repeats} runs)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lab", action="store_true", help="also time display -> first draw in JupyterLab")
    parser.add_argument("--lab-only", action="store_true", help="only the JupyterLab timings")
    parser.add_argument("--tokens", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--lean", action="store_true", help="also the lean capture against today's capture")
    parser.add_argument("--attnlrp", action="store_true", help="also AttnLRP against lxt 2.1 (needs lxt)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; GPT-2 small config (12 x 12, d 768), "
          "random weights; medians of interleaved rounds")
    for tokens in [] if args.lab_only else args.tokens:
        repeats = args.repeats if tokens <= 256 else max(1, args.repeats // 3)  # a 1,024-token round takes minutes
        table(f"engine, {tokens} tokens, next token at the last position (CPU; median of {repeats} interleaved "
              "rounds after a warm-up)", engine(tokens, repeats))
        rows, _ = payload(tokens)
        table(f"payload, {tokens} tokens", rows)
    if args.lab or args.lab_only:
        table("JupyterLab (headless Chromium, a real kernel and websocket)", lab(tuple(args.tokens), 3))
    here = Path(__file__).resolve().parent
    tokens = [str(t) for t in args.tokens]
    if args.lean:  # its own script: the peaks need fresh processes and "before" imports an older attnviz
        subprocess.run([sys.executable, str(here / "lean_capture.py"), "--tokens", *tokens, "--repeats",
                        str(max(1, args.repeats // 2))], check=True)
    if args.attnlrp:
        subprocess.run([sys.executable, str(here / "attnlrp_lxt.py"), "--timing-only"], check=True)


if __name__ == "__main__":
    main()
