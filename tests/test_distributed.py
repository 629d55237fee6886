"""Data-parallel evaluation (issue 9): two CPU processes on gloo through ``accelerate launch`` give the same merged
result as one process, and the command line writes a results folder that loads back."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from attnviz.evaluate import EvaluationResult

TEXTS = ["the movie was wonderful and the actors were brilliant", "the film was a boring mess and i want my money",
         "a gripping story told with warmth and wit , lovely", "the plot is thin but the music is lovely and warm",
         "this is the worst film of the year , what a waste", "an instant classic that everyone should see twice"]


def run(args: list[str], tmp_path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "ACCELERATE_DISABLE_RICH": "1"}
    out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_on_gloo_merge_to_the_single_process_result(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS), encoding="utf-8")
    common = ["-m", "attnviz.evaluate", "--tiny", "bert", "--float64", "--texts", str(texts), "--preset",
              "attcat2022", "--methods", "rollout", "gae", "attcat", "--format", "csv"]
    run([sys.executable, *common, "--out", str(tmp_path / "single")], tmp_path)
    # --multi_gpu is accelerate's torchrun launcher; without a GPU the two processes run on the CPU over gloo
    run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", *common, "--out",
         str(tmp_path / "two")], tmp_path)
    single, two = EvaluationResult.load(tmp_path / "single"), EvaluationResult.load(tmp_path / "two")
    assert single.params["processes"] == 1 and two.params["processes"] == 2
    assert sorted(two.per_instance.instance.unique()) == list(range(len(TEXTS)))
    cols = ["instance", "method", "metric"]
    a = single.per_instance.sort_values(cols).reset_index(drop=True)
    b = two.per_instance.sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[cols], b[cols])
    np.testing.assert_allclose(a.value.to_numpy(), b.value.to_numpy(), rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(single.table, two.table, atol=1e-12)
