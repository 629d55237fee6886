"""The tours' interpreting sentences agree with the numbers they describe (issue 19 #24): each is generated from
the table by attnviz.evaluate.sentences, and these tests read the verdict back against the table's own arithmetic."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from attnviz.evaluate.sentences import (
    against_best,
    duration,
    jsd_scale,
    largest_changes,
    versus_chance,
    wilson_interval,
)


def numbers(sentence: str) -> list[float]:
    return [float(x) for x in re.findall(r"(?<![\d.])[-+]?\d+\.\d+", sentence)]  # "0.28-0.33": two numbers


@pytest.mark.parametrize("rate, trials", [(0.45, 40), (0.45, 4000), (0.55, 40), (0.8, 40), (0.5, 40), (0.2, 10)])
def test_versus_chance_agrees_with_the_interval(rate, trials):
    sentence = versus_chance("attcat", rate, trials)
    lo, hi = wilson_interval(rate, trials)
    assert f"{rate:.3f} of {trials} trials" in sentence and f"{lo:.2f}-{hi:.2f}" in sentence
    if lo > 0.5:
        assert sentence.endswith("above chance (0.50).")
    elif hi < 0.5:
        assert sentence.endswith("below chance (0.50).")
    else:
        assert "not distinguishable" in sentence or "exactly at chance" in sentence
    if rate < 0.5:
        assert "above chance" not in sentence  # the tour-2 case: 0.450 was called "more often than chance"


def test_wilson_interval_matches_the_formula_and_contains_the_rate():
    for rate, n in [(0.45, 40), (0.0, 10), (1.0, 10), (0.5, 1)]:
        lo, hi = wilson_interval(rate, n)
        assert 0.0 <= lo <= rate + 1e-12 and rate - 1e-12 <= hi <= 1.0
    lo, hi = wilson_interval(0.45, 40)  # by hand: centre (0.45 + z²/80) / (1 + z²/40), z = 1.96
    z = 1.959964
    centre = (0.45 + z * z / 80) / (1 + z * z / 40)
    half = z * np.sqrt(0.45 * 0.55 / 40 + z * z / 6400) / (1 + z * z / 40)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))


def table(rows: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame({"aopc": {m: v for m, (v, _, _) in rows.items()},
                         "aopc lo": {m: lo for m, (_, lo, _) in rows.items()},
                         "aopc hi": {m: hi for m, (_, _, hi) in rows.items()}})


def test_against_best_says_overlap_only_where_the_intervals_overlap():
    # the tour-3 case: only raw's upper bound reaches gae's lower bound
    t = table({"gae": (0.36, 0.330, 0.390), "raw": (0.314, 0.280, 0.335), "rollout": (0.305, 0.270, 0.325),
               "flow": (0.218, 0.190, 0.250)})
    sentences = against_best(t, "aopc", ["raw", "rollout", "flow"])
    assert sentences[0].startswith("Best aopc: gae 0.360 (95% interval 0.330-0.390)")
    verdicts = {s.split()[0]: s for s in sentences[1:]}
    for m, s in verdicts.items():
        lo, hi = t.loc[m, "aopc lo"], t.loc[m, "aopc hi"]
        overlaps = not (hi < t.loc["gae", "aopc lo"] or lo > t.loc["gae", "aopc hi"])
        assert ("cannot be told apart" in s) == overlaps, s
        assert ("scores worse than gae" in s) == (hi < t.loc["gae", "aopc lo"]), s
        assert numbers(s)[:3] == pytest.approx([t.loc[m, "aopc"], lo, hi])
    assert "cannot be told apart" in verdicts["raw"] and "worse" in verdicts["rollout"] and "worse" in verdicts["flow"]


def test_against_best_when_lower_is_better():
    t = table({"a": (-0.5, -0.6, -0.4), "b": (-0.1, -0.2, 0.0), "c": (-0.45, -0.55, -0.35)})
    sentences = against_best(t, "aopc", ["b", "c"], higher_is_better=False)
    assert sentences[0].startswith("Best aopc: a -0.500")
    assert "scores worse than a" in sentences[1] and "cannot be told apart" in sentences[2]


def test_largest_changes_lists_only_changes_of_its_sign():
    changes = {"good": 0.012, "bad": 0.004, "the": 0.0007, "film": 0.0021}  # the tour-4 case: all positive
    grew = largest_changes(changes, 3, "grew")
    assert grew == "words whose share grew most: good +0.0120, bad +0.0040, film +0.0021"
    shrank = largest_changes(changes, 3, "shrank")
    assert "no word's share shrank on average" in shrank and "the +0.0007" in shrank
    mixed = largest_changes({**changes, "dull": -0.003, "a": -0.0001}, 5, "shrank")
    assert mixed == "words whose share shrank most: dull -0.0030, a -0.0001"
    with pytest.raises(ValueError, match="direction"):
        largest_changes(changes, 3, "moved")


def test_jsd_scale_and_duration():
    assert "at most 1" in jsd_scale("2") and "at most ln 2" in jsd_scale("e")
    with pytest.raises(ValueError):
        jsd_scale("10")
    assert duration(41.2) == "41 s" and duration(144) == "2.4 minutes"
