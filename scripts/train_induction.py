"""Train the embedded induction demo: a 2-block GPT-2, from scratch, on word sequences whose second half repeats the
first, until it predicts the repeated half by induction (a previous-token head feeding an induction head).

    python scripts/train_induction.py                      # the shipped run (1 CPU thread, a few minutes)
    python scripts/train_induction.py --steps 500 --out /tmp/ind/induction   # a short run elsewhere
    python scripts/train_induction.py --smoke              # seconds, into a temporary folder: does it still work?

Data (attnviz/demo/_induction.py, shared with ``attnviz.demo.induction_sequence``): ``<bos>`` then k different words
drawn from the 64-word vocabulary, then the same k words again, k uniform in MIN_HALF..31; drawn afresh every step
from seed ``--seed``. k varies so that the model cannot find the repeat by position alone: it has to match content.
Held-out sequences (all the metrics) come from another seed (HELD_OUT_SEED).

Losses (nats per predicted word, held out): "first half" = predicting the k first-half words (each one is a fresh
draw: about ln(64 - i), nothing to learn beyond "not a word seen already"); "repeated half" = predicting the 2nd ..
k-th words of the second half, the ones induction determines (the second half's first word is left out of both:
nothing in the first half announces where the repeat starts).

Writes ``--out`` (default attnviz/demo/weights/induction): model.safetensors (float32), config.json,
tokenizer.json, tokenizer_config.json; and ``<out>/../induction_metrics.json``: training time, hyperparameters,
versions, held-out losses, the best previous-token and induction heads by ``attnviz.head_scores`` and the losses with
each zero-ablated (``attnviz.Explainer.ablate``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: spinning OpenMP threads stall each other

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import attnviz  # noqa: E402
from attnviz.demo._induction import (  # noqa: E402
    HELD_OUT_SEED,
    MAX_HALF,
    N_POSITIONS,
    SPECIALS,
    WORDS,
    build_tokenizer,
    random_halves,
)

DEFAULT_OUT = ROOT / "attnviz" / "demo" / "weights" / "induction"

# ---- every hyperparameter of the shipped run -------------------------------------------------------------------
HP = dict(
    seed=0,
    threads=1,
    # model (Hugging Face GPT-2: pre-LN blocks with MLPs, learned absolute positions, tied input/output embedding)
    n_layer=2, n_head=4, n_embd=64, n_inner=256, n_positions=N_POSITIONS, dropout=0.0, init_std=0.02,
    position_init="random",  # or "sinusoidal": the position table starts from Vaswani et al.'s sines, times this
    position_init_scale=1.0,
    # data
    min_half=4, max_half=MAX_HALF,
    # optimisation
    steps=3000, batch_size=32, lr=1e-3, weight_decay=0.01, warmup_steps=100, min_lr_ratio=0.1, grad_clip=1.0,
    # evaluation
    n_eval=256, eval_seed=HELD_OUT_SEED, eval_every=250, n_monitor=64,
)
SMOKE = dict(steps=3, batch_size=4, n_eval=4, n_monitor=4, eval_every=1, warmup_steps=1)
# -----------------------------------------------------------------------------------------------------------------


def lr_at(step: int, hp: dict) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio * lr``."""
    if step < hp["warmup_steps"]:
        return hp["lr"] * (step + 1) / hp["warmup_steps"]
    t = (step - hp["warmup_steps"]) / max(1, hp["steps"] - hp["warmup_steps"])
    return hp["lr"] * (hp["min_lr_ratio"] + (1 - hp["min_lr_ratio"]) * 0.5 * (1 + math.cos(math.pi * t)))


def sinusoids(positions: int, dim: int) -> torch.Tensor:
    """The sine-cosine position table of Vaswani et al. (2017), [positions, dim]: position p + 1's row is a fixed
    rotation of position p's, so "the previous position" is one linear map away for a previous-token head."""
    frequencies = 1.0 / 10000 ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    angles = torch.arange(positions, dtype=torch.float64).view(-1, 1) * frequencies.view(1, -1)
    return torch.stack([angles.sin(), angles.cos()], -1).reshape(positions, dim).float()


def draw_batch(rng: np.random.Generator, n: int, hp: dict, tokenizer) -> dict[str, torch.Tensor]:
    """n sequences ``<bos> a_1..a_k a_1..a_k`` (k per sequence), right-padded with ``<eos>`` to the longest.

    Returns input_ids [n, L], half [n] (k), and masks [n, L] of the *target* positions (position p predicts token
    p + 1): ``first`` (targets a_1..a_k of the first half), ``repeated`` (targets a_2..a_k of the second half) and
    ``real`` (every target that is not padding)."""
    halves = rng.integers(hp["min_half"], hp["max_half"] + 1, size=n)
    rows = [tokenizer(" ".join(random_halves(rng, int(k))))["input_ids"] for k in halves]
    length = max(len(r) for r in rows)
    ids = torch.full((n, length), tokenizer.eos_token_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
    k = torch.as_tensor(halves).view(-1, 1)
    p = torch.arange(length).view(1, -1)  # the target of position p is token p + 1
    return {"input_ids": ids, "half": k.view(-1),
            "first": p < k, "repeated": (p >= k + 1) & (p < 2 * k), "real": p < 2 * k}


def token_losses(model, ids: torch.Tensor) -> torch.Tensor:
    """Cross-entropy [n, L] of each position's prediction of the next token (the last column is 0: no target)."""
    logits = model(input_ids=ids).logits.float()
    losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")
    return torch.nn.functional.pad(losses, (0, 1))


def half_losses(losses: torch.Tensor, batch: dict) -> dict[str, float]:
    """Mean loss per predicted word over the first half and over the repeated half (module docstring)."""
    return {f"loss_{name}": float(losses[batch[key]].mean())
            for name, key in (("first_half", "first"), ("repeated_half", "repeated"))}


@torch.no_grad()
def evaluate_losses(model, batch: dict) -> dict[str, float]:
    was_training = model.training
    model.eval()
    out = half_losses(token_losses(model, batch["input_ids"]), batch)
    model.train(was_training)
    return out


@torch.no_grad()
def mean_head_scores(model, batch: dict) -> dict[str, np.ndarray]:
    """``attnviz.head_scores`` of every held-out sequence (its own length, no padding), averaged: name -> [B, H]."""
    model.eval()
    sums: dict[str, np.ndarray] = {}
    for ids, k in zip(batch["input_ids"], batch["half"]):
        ids = ids[: 1 + 2 * int(k)].view(1, -1)
        attentions = model(input_ids=ids, output_attentions=True).attentions  # per block [1, H, N, N]
        attention = torch.cat(attentions).numpy()  # [B, H, N, N]
        for name, score in attnviz.head_scores(attention, ids[0].tolist()).items():
            sums[name] = sums.get(name, 0) + score
    return {name: total / len(batch["half"]) for name, total in sums.items()}


def best_head(scores: np.ndarray) -> dict:
    block, head = np.unravel_index(int(np.nanargmax(scores)), scores.shape)
    return {"block": int(block), "head": int(head), "score": round(float(scores[block, head]), 4)}


@torch.no_grad()
def ablation_losses(model, tokenizer, batch: dict) -> dict:
    """Held-out losses with each single head zero-ablated through ``attnviz.Explainer.ablate``: [B][H] tables."""
    explainer = attnviz.Explainer(model, tokenizer)
    B, H = model.config.n_layer, model.config.n_head
    table: dict[str, list[list[float]]] = {"loss_first_half": [[0.0] * H for _ in range(B)],
                                           "loss_repeated_half": [[0.0] * H for _ in range(B)]}
    for b in range(B):
        for h in range(H):
            with explainer.ablate({b: [h]}):
                for name, value in half_losses(token_losses(model, batch["input_ids"]), batch).items():
                    table[name][b][h] = round(value, 4)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None,
                    help=f"model folder (default {DEFAULT_OUT.relative_to(ROOT)}; with --smoke a temporary folder); "
                         "the metrics go beside it, into <out>/../induction_metrics.json")
    ap.add_argument("--steps", type=int, default=None, help="override HP['steps']")
    ap.add_argument("--threads", type=int, default=None, help="override HP['threads'] (1: bit-exact, shared CPUs)")
    ap.add_argument("--seed", type=int, default=None, help="override HP['seed'] (initialisation and training data)")
    ap.add_argument("--smoke", action="store_true",
                    help="a seconds-long run on a few sequences: checks that the script works; its numbers mean nothing")
    args = ap.parse_args()
    hp = dict(HP)
    if args.smoke:
        hp.update(SMOKE)
    for name in ("steps", "threads", "seed"):
        if getattr(args, name) is not None:
            hp[name] = getattr(args, name)
    if hp["seed"] == hp["eval_seed"]:
        raise SystemExit(f"--seed {hp['seed']} is the held-out seed: choose another")
    out = args.out or (Path(tempfile.mkdtemp(prefix="train_induction_")) / "induction" if args.smoke else DEFAULT_OUT)
    metrics_path = out.parent / "induction_metrics.json"

    torch.set_num_threads(hp["threads"])
    torch.set_flush_denormal(True)  # tiny Adam moments turn denormal and slow CPU maths down several-fold
    torch.manual_seed(hp["seed"])
    rng = np.random.default_rng(hp["seed"])
    tokenizer = build_tokenizer()
    held_out = draw_batch(np.random.default_rng(hp["eval_seed"]), hp["n_eval"], hp, tokenizer)
    monitor = {key: value[:hp["n_monitor"]] for key, value in held_out.items()}

    config = GPT2Config(
        vocab_size=len(SPECIALS) + len(WORDS), n_positions=hp["n_positions"], n_embd=hp["n_embd"],
        n_layer=hp["n_layer"], n_head=hp["n_head"], n_inner=hp["n_inner"], resid_pdrop=hp["dropout"],
        embd_pdrop=hp["dropout"], attn_pdrop=hp["dropout"], bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=True, initializer_range=hp["init_std"],
    )
    config._attn_implementation = "sdpa"  # fast to train; the loader and the measurements use "eager"
    model = GPT2LMHeadModel(config)
    if hp["position_init"] == "sinusoidal":
        with torch.no_grad():
            model.transformer.wpe.weight.copy_(sinusoids(hp["n_positions"], hp["n_embd"]) * hp["position_init_scale"])
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=hp["lr"])
    print(f"GPT-2 {n_params / 1e3:.0f}k parameters, {hp['steps']} steps x {hp['batch_size']} sequences, "
          f"{hp['threads']} thread(s)", flush=True)

    model.train()
    t0, cpu0 = time.perf_counter(), time.process_time()
    history = []
    running = 0.0
    for step in range(hp["steps"]):
        batch = draw_batch(rng, hp["batch_size"], hp, tokenizer)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, hp)
        loss = token_losses(model, batch["input_ids"])[batch["real"]].mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), hp["grad_clip"])
        opt.step()
        running = 0.95 * running + 0.05 * loss.item() if step else loss.item()
        if (step + 1) % hp["eval_every"] == 0 or step + 1 == hp["steps"]:
            m = evaluate_losses(model, monitor)
            elapsed = time.perf_counter() - t0
            history.append({"step": step + 1, "seconds": round(elapsed, 1), "train_loss": round(running, 4),
                            **{k: round(v, 4) for k, v in m.items()}})
            print(f"step {step + 1:5d}  {elapsed:6.1f}s  train {running:.3f}  held-out first half "
                  f"{m['loss_first_half']:.3f}  repeated half {m['loss_repeated_half']:.3f}", flush=True)
    train_seconds = time.perf_counter() - t0
    train_cpu_seconds = time.process_time() - cpu0

    out.mkdir(parents=True, exist_ok=True)
    model.config._attn_implementation = "eager"  # what the loader asks for; output_attentions needs it
    transformers.utils.logging.disable_progress_bar()  # "Writing model shards" for one small file
    model.save_pretrained(out)  # safetensors (the default), float32
    tokenizer.save_pretrained(out)
    if not (out / "model.safetensors").is_file():
        raise SystemExit(f"save_pretrained wrote no model.safetensors into {out}")

    model.eval()
    losses = evaluate_losses(model, held_out)
    scores = mean_head_scores(model, held_out)
    previous, induction = best_head(scores["previous_token"]), best_head(scores["induction"])
    ablated = ablation_losses(model, tokenizer, held_out)

    def ablated_at(head: dict) -> dict:
        return {name: table[head["block"]][head["head"]] for name, table in ablated.items()}

    record = {
        "held_out": {
            "source": f"{hp['n_eval']} sequences from seed {hp['eval_seed']} (training: seed {hp['seed']}), "
                      f"k uniform in {hp['min_half']}..{hp['max_half']}",
            **{k: round(v, 4) for k, v in losses.items()},
            "previous_token_head": {**previous, "ablated": ablated_at(previous)},
            "induction_head": {**induction, "ablated": ablated_at(induction)},
            "head_scores": {name: np.round(s, 4).tolist() for name, s in scores.items()},
            "ablated_head_losses": ablated,
        },
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu_seconds, 1),
        "steps": hp["steps"],
        "train_sequences": hp["steps"] * hp["batch_size"],
        "parameters": n_params,
        "weight_bytes": (out / "model.safetensors").stat().st_size,
        "history": history,
        "hyperparameters": hp,
        "config": {k: getattr(model.config, k) for k in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head",
                                                          "n_inner", "activation_function")},
        "machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads(), "python": platform.python_version(),
                    "torch": torch.__version__, "transformers": transformers.__version__,
                    "tokenizers": tokenizers.__version__, "processor": platform.processor() or platform.machine()},
    }
    metrics_path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"held out: loss first half {losses['loss_first_half']:.3f}, repeated half {losses['loss_repeated_half']:.3f}")
    for label, head in (("previous-token", previous), ("induction", induction)):
        print(f"{label} head {head['block']}.{head['head']}: score {head['score']:.3f}; ablated, repeated-half loss "
              f"{ablated_at(head)['loss_repeated_half']:.3f}, first half {ablated_at(head)['loss_first_half']:.3f}")
    print(f"trained in {train_seconds:.0f} s; wrote {out} and {metrics_path}", flush=True)


if __name__ == "__main__":
    main()
