"""Data-parallel evaluation across processes or GPUs, through Hugging Face ``accelerate`` (or any torch.distributed
run): each process evaluates a contiguous shard of the inputs with its own copy of the model on its own device,
and the per-instance rows are gathered so that every process holds the merged result, the same as one process
computes (instances keep their global indices).

    accelerate launch --multi_gpu --num_processes 2 -m attnviz.evaluate --demo sentiment --out results/
    torchrun --nproc_per_node 2 -m attnviz.evaluate --demo sentiment --out results/     # the same

(``--multi_gpu`` is accelerate's name for its torchrun launcher: on a machine without GPUs the processes run on
the CPU and talk over gloo. ``accelerate launch --cpu`` starts one process only.)

A model too large for one device loads with ``device_map="auto"`` (``--device-map auto`` on the command line):
attnviz sends the inputs to the device of the first parameter and transformers moves the activations on.
"""

from __future__ import annotations

from typing import Any


def world() -> tuple[int, int]:
    """(rank, number of processes) of the current distributed run; (0, 1) outside one (nothing is initialised
    then). On machines without a GPU the processes talk over gloo."""
    import os

    import torch

    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return _torch_world()
    try:
        from accelerate import PartialState
    except ImportError:
        return _torch_world()
    state = PartialState(cpu=not torch.cuda.is_available())
    return int(state.process_index), int(state.num_processes)


def _torch_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(n: int, distributed: bool) -> tuple[list[int], int]:
    """This process's instance indices (a contiguous block of 0..n−1) and the number of processes."""
    if not distributed:
        return list(range(n)), 1
    rank, size = world()
    return list(range(n * rank // size, n * (rank + 1) // size)), size


def gather(rows: list[dict], curves: list[dict], skipped: list[dict], partial: bool) -> tuple[Any, Any, Any, bool]:
    """Every process's rows, curves and skipped instances, merged on every process (``gather_object``)."""
    from accelerate.utils import gather_object

    merged = gather_object([(rows, curves, skipped, partial)])
    out_rows: list[dict] = []
    out_curves: list[dict] = []
    out_skipped: list[dict] = []
    any_partial = False
    for r, c, s, p in merged:
        out_rows.extend(r)
        out_curves.extend(c)
        out_skipped.extend(s)
        any_partial = any_partial or bool(p)
    return out_rows, out_curves, sorted(out_skipped, key=lambda x: x["instance"]), any_partial


__all__ = ["gather", "shard", "world"]
