#!/usr/bin/env python3
"""Generate JSON reference fixtures for the Rust fairness engine (crates/fairness).

The fixtures hold small, deterministic data sets (labels, predictions, scores,
sensitive attributes) together with the values that fairlearn and AIF360 compute
for them. The Rust tests compare their own results against these numbers.

Usage (from the repository root):

    python3 -m venv .venv-fixtures
    .venv-fixtures/bin/pip install -r tools/fairness-fixtures/requirements.txt
    .venv-fixtures/bin/python tools/fairness-fixtures/make_fixtures.py

Options: --out DIR (default: crates/fairness/fixtures next to this repository),
--check (regenerate in memory and fail if any committed file differs).

Everything is deterministic: data come from numpy.random.RandomState with fixed
seeds, and keys are written in a fixed insertion order.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import warnings
from collections import OrderedDict
from pathlib import Path

# AIF360 logs (via the root logger) that optional extras such as tensorflow are
# missing. Those algorithms are not used here; keep the output quiet.
logging.disable(logging.WARNING)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sklearn  # noqa: E402
import sklearn.metrics as skm  # noqa: E402

import fairlearn  # noqa: E402
from fairlearn.metrics import (  # noqa: E402
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)

try:  # fairlearn >= 0.11
    from fairlearn.metrics import equal_opportunity_difference, equal_opportunity_ratio  # noqa: E402

    HAVE_EQUAL_OPPORTUNITY = True
except ImportError:  # pragma: no cover - depends on the installed version
    HAVE_EQUAL_OPPORTUNITY = False

import aif360  # noqa: E402
from aif360.datasets import BinaryLabelDataset  # noqa: E402
from aif360.metrics import ClassificationMetric  # noqa: E402

logging.disable(logging.NOTSET)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "crates" / "fairness" / "fixtures"

LABEL_METRICS = [
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "true_negative_rate",
    "false_negative_rate",
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
]
SCORE_METRICS = ["roc_auc", "average_precision", "brier", "log_loss"]
ALL_METRICS = ["count"] + LABEL_METRICS + SCORE_METRICS
RATE_METRICS = ["selection_rate", "true_positive_rate", "false_positive_rate", "accuracy", "precision"]
METHODS = ["between_groups", "to_overall"]

SCORE_LO, SCORE_HI = 0.0005, 0.9995


# --------------------------------------------------------------------------
# Metric functions (signature f(y_true, y_pred) as MetricFrame expects)
# --------------------------------------------------------------------------


def _roc_auc(y_true, y_score):
    try:
        return skm.roc_auc_score(y_true, y_score)
    except ValueError:
        # Older scikit-learn raises for a single class; newer returns NaN + warning.
        return float("nan")


def _average_precision(y_true, y_score):
    try:
        return skm.average_precision_score(y_true, y_score)
    except ValueError:
        return float("nan")


def _brier(y_true, y_score):
    try:
        return skm.brier_score_loss(y_true, y_score)
    except ValueError:
        return float("nan")


def _log_loss(y_true, y_score):
    try:
        return skm.log_loss(y_true, y_score, labels=[0, 1])
    except ValueError:
        return float("nan")


LABEL_FUNCS = OrderedDict(
    [
        ("count", count),
        ("selection_rate", selection_rate),
        ("true_positive_rate", true_positive_rate),
        ("false_positive_rate", false_positive_rate),
        ("true_negative_rate", true_negative_rate),
        ("false_negative_rate", false_negative_rate),
        ("accuracy", skm.accuracy_score),
        ("balanced_accuracy", skm.balanced_accuracy_score),
        ("precision", lambda yt, yp: skm.precision_score(yt, yp, zero_division=0)),
        ("recall", lambda yt, yp: skm.recall_score(yt, yp, zero_division=0)),
        ("f1", lambda yt, yp: skm.f1_score(yt, yp, zero_division=0)),
    ]
)
SCORE_FUNCS = OrderedDict(
    [
        ("roc_auc", _roc_auc),
        ("average_precision", _average_precision),
        ("brier", _brier),
        ("log_loss", _log_loss),
    ]
)


# --------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------


def num(x):
    """Convert a numpy/pandas scalar to a JSON-safe Python value (NaN/inf -> None)."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return f


def count_value(x):
    v = num(x)
    return None if v is None else int(round(v))


# --------------------------------------------------------------------------
# Data sets
# --------------------------------------------------------------------------


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _scores(rng, y_true, shift, separation=0.9, noise=1.0):
    """Scores loosely informative of y_true, kept away from exact 0/1."""
    z = separation * (2 * y_true - 1) + shift + rng.normal(0.0, noise, size=len(y_true))
    s = np.clip(_sigmoid(z), SCORE_LO, SCORE_HI)
    return np.round(s, 6)


def _pred_from_score(score):
    return (score >= 0.5).astype(int)


def make_binary_two_groups():
    rng = np.random.RandomState(20240101)
    n = 1000
    sex = rng.choice(["F", "M"], size=n, p=[0.45, 0.55])
    base = np.where(sex == "F", 0.30, 0.50)
    y_true = (rng.uniform(size=n) < base).astype(int)
    shift = np.where(sex == "F", -0.4, 0.2)
    y_score = _scores(rng, y_true, shift)
    y_pred = _pred_from_score(y_score)
    return dict(y_true=y_true, y_pred=y_pred, y_score=y_score, groups={"sex": sex})


def make_multi_valued():
    rng = np.random.RandomState(20240202)
    n = 1500
    values = ["danish", "immigrant_western", "immigrant_non_western", "descendant_non_western"]
    origin = rng.choice(values, size=n, p=[0.70, 0.10, 0.13, 0.07])
    base_map = {"danish": 0.45, "immigrant_western": 0.40,
                "immigrant_non_western": 0.28, "descendant_non_western": 0.33}
    shift_map = {"danish": 0.25, "immigrant_western": 0.0,
                 "immigrant_non_western": -0.5, "descendant_non_western": -0.3}
    base = np.array([base_map[v] for v in origin])
    y_true = (rng.uniform(size=n) < base).astype(int)
    shift = np.array([shift_map[v] for v in origin])
    y_score = _scores(rng, y_true, shift, separation=0.8)
    y_pred = _pred_from_score(y_score)
    return dict(y_true=y_true, y_pred=y_pred, y_score=y_score, groups={"origin": origin})


def make_intersectional():
    rng = np.random.RandomState(20240303)
    n = 2000
    sex = rng.choice(["F", "M"], size=n, p=[0.5, 0.5])
    age_band = rng.choice(["18-29", "30-49", "50-66"], size=n, p=[0.25, 0.45, 0.30])
    region = rng.choice(["A", "B", "C"], size=n, p=[0.5, 0.3, 0.2])
    # Make the intersection F & 50-66 & C empty: move those rows to region A or B.
    empty = (sex == "F") & (age_band == "50-66") & (region == "C")
    region = region.copy()
    region[empty] = rng.choice(["A", "B"], size=int(empty.sum()))
    assert not np.any((sex == "F") & (age_band == "50-66") & (region == "C"))
    base = 0.35 + 0.10 * (sex == "M") + np.select(
        [age_band == "18-29", age_band == "30-49"], [-0.08, 0.05], 0.0
    ) + np.select([region == "A", region == "B"], [0.05, -0.05], -0.10)
    y_true = (rng.uniform(size=n) < base).astype(int)
    shift = 0.3 * (sex == "M") - 0.15 + np.select([age_band == "50-66"], [-0.3], 0.0)
    y_score = _scores(rng, y_true, shift, separation=0.85)
    y_pred = _pred_from_score(y_score)
    return dict(y_true=y_true, y_pred=y_pred, y_score=y_score,
                groups={"sex": sex, "age_band": age_band, "region": region})


def make_no_positives_group():
    rng = np.random.RandomState(20240404)
    n = 600
    group = rng.choice(["a", "b", "c"], size=n, p=[0.55, 0.33, 0.12])
    base = np.select([group == "a", group == "b"], [0.45, 0.35], 0.0)
    y_true = (rng.uniform(size=n) < base).astype(int)
    assert y_true[group == "c"].sum() == 0 and (group == "c").sum() > 0
    shift = np.select([group == "c"], [-0.6], 0.0)
    y_score = _scores(rng, y_true, shift, separation=0.9)
    y_pred = _pred_from_score(y_score)
    # Make sure group c has some false positives (so FPR is not trivially 0).
    assert y_pred[group == "c"].sum() > 0
    return dict(y_true=y_true, y_pred=y_pred, y_score=y_score, groups={"group": group})


def make_all_zero_predictions():
    rng = np.random.RandomState(20240505)
    n = 400
    sex = rng.choice(["F", "M"], size=n, p=[0.4, 0.6])
    base = np.where(sex == "F", 0.35, 0.45)
    y_true = (rng.uniform(size=n) < base).astype(int)
    raw = _scores(rng, y_true, np.where(sex == "F", -0.2, 0.1))
    # Squash scores into [SCORE_LO, 0.5) so the rule score >= 0.5 still holds.
    y_score = np.round(SCORE_LO + raw * (0.499 - SCORE_LO), 6)
    y_pred = np.zeros(n, dtype=int)
    return dict(y_true=y_true, y_pred=y_pred, y_score=y_score, groups={"sex": sex})


def make_all_one_predictions():
    rng = np.random.RandomState(20240606)
    n = 400
    sex = rng.choice(["F", "M"], size=n, p=[0.4, 0.6])
    base = np.where(sex == "F", 0.55, 0.65)
    y_true = (rng.uniform(size=n) < base).astype(int)
    raw = _scores(rng, y_true, np.where(sex == "F", -0.2, 0.1))
    # Squash scores into [0.5, SCORE_HI].
    y_score = np.round(0.5 + raw * (SCORE_HI - 0.5), 6)
    y_pred = np.ones(n, dtype=int)
    return dict(y_true=y_true, y_pred=y_pred, y_score=y_score, groups={"sex": sex})


def make_hand_small():
    # 12 rows, written by hand. Group a: 6 rows, group b: 6 rows.
    rows = [
        # group, y_true, y_score
        ("a", 1, 0.91),
        ("a", 1, 0.62),
        ("a", 1, 0.35),
        ("a", 0, 0.55),
        ("a", 0, 0.20),
        ("a", 0, 0.08),
        ("b", 1, 0.81),
        ("b", 1, 0.44),
        ("b", 0, 0.47),
        ("b", 1, 0.30),
        ("b", 0, 0.52),
        ("b", 0, 0.12),
    ]
    group = np.array([r[0] for r in rows])
    y_true = np.array([r[1] for r in rows], dtype=int)
    y_score = np.round(np.array([r[2] for r in rows], dtype=float), 6)
    y_pred = _pred_from_score(y_score)
    # a: TP=2, FN=1, FP=1, TN=2 -> SR 0.5, TPR 2/3, FPR 1/3
    # b: TP=1, FN=2, FP=1, TN=2 -> SR 1/3, TPR 1/3, FPR 1/3
    # Tie in group size: AIF360 privileged = 'a' (first in sorted order).
    return dict(y_true=y_true, y_pred=y_pred, y_score=y_score, groups={"group": group})


DATASETS = OrderedDict(
    [
        ("binary_two_groups", (make_binary_two_groups, [["sex"]])),
        ("multi_valued", (make_multi_valued, [["origin"]])),
        (
            "intersectional",
            (
                make_intersectional,
                [["sex"], ["age_band"], ["region"], ["sex", "age_band"], ["sex", "age_band", "region"]],
            ),
        ),
        ("no_positives_group", (make_no_positives_group, [["group"]])),
        ("all_zero_predictions", (make_all_zero_predictions, [["sex"]])),
        ("all_one_predictions", (make_all_one_predictions, [["sex"]])),
        ("hand_small", (make_hand_small, [["group"]])),
    ]
)


# --------------------------------------------------------------------------
# fairlearn
# --------------------------------------------------------------------------


def _group_key(idx):
    if isinstance(idx, tuple):
        return "|".join(str(v) for v in idx)
    return str(idx)


def _metric_dict(series_like):
    out = OrderedDict()
    for m in ALL_METRICS:
        v = series_like[m]
        out[m] = count_value(v) if m == "count" else num(v)
    return out


def fairlearn_block(data, attrs, notes):
    y_true, y_pred, y_score = data["y_true"], data["y_pred"], data["y_score"]
    if len(attrs) == 1:
        sf = pd.Series(data["groups"][attrs[0]], name=attrs[0])
    else:
        sf = pd.DataFrame({a: data["groups"][a] for a in attrs})
    key = "&".join(attrs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf_lab = MetricFrame(metrics=dict(LABEL_FUNCS), y_true=y_true, y_pred=y_pred, sensitive_features=sf)
        mf_sc = MetricFrame(metrics=dict(SCORE_FUNCS), y_true=y_true, y_pred=y_score, sensitive_features=sf)
        mf_rate = MetricFrame(
            metrics={m: LABEL_FUNCS[m] for m in RATE_METRICS},
            y_true=y_true, y_pred=y_pred, sensitive_features=sf,
        )

        overall = pd.concat([mf_lab.overall, mf_sc.overall])
        by_group_df = pd.concat([mf_lab.by_group, mf_sc.by_group], axis=1)

        block = OrderedDict()
        block["overall"] = _metric_dict(overall)
        bg = OrderedDict()
        empty_groups = []
        for idx, row in by_group_df.iterrows():
            d = _metric_dict(row)
            if d["count"] is None:
                empty_groups.append(_group_key(idx))
            bg[_group_key(idx)] = d
        block["by_group"] = bg

        for name, fn, kw in [
            ("difference_between_groups", "difference", "between_groups"),
            ("difference_to_overall", "difference", "to_overall"),
            ("ratio_between_groups", "ratio", "between_groups"),
            ("ratio_to_overall", "ratio", "to_overall"),
        ]:
            res = getattr(mf_rate, fn)(method=kw)
            block[name] = OrderedDict((m, num(res[m])) for m in RATE_METRICS)

        kwargs = dict(y_true=y_true, y_pred=y_pred, sensitive_features=sf)
        block["demographic_parity_difference"] = OrderedDict(
            (m, num(demographic_parity_difference(method=m, **kwargs))) for m in METHODS)
        block["demographic_parity_ratio"] = OrderedDict(
            (m, num(demographic_parity_ratio(method=m, **kwargs))) for m in METHODS)
        block["equalized_odds_difference"] = OrderedDict(
            (m, num(equalized_odds_difference(method=m, **kwargs))) for m in METHODS)
        block["equalized_odds_ratio"] = OrderedDict(
            (m, num(equalized_odds_ratio(method=m, **kwargs))) for m in METHODS)
        if HAVE_EQUAL_OPPORTUNITY:
            block["equal_opportunity_difference"] = OrderedDict(
                (m, num(equal_opportunity_difference(method=m, **kwargs))) for m in METHODS)
            block["equal_opportunity_ratio"] = OrderedDict(
                (m, num(equal_opportunity_ratio(method=m, **kwargs))) for m in METHODS)
        else:
            tpr = MetricFrame(metrics=true_positive_rate, **kwargs)
            block["equal_opportunity_difference"] = OrderedDict(
                (m, num(tpr.difference(method=m))) for m in METHODS)
            block["equal_opportunity_ratio"] = OrderedDict(
                (m, num(tpr.ratio(method=m))) for m in METHODS)
            notes.append(
                f"[{key}] fairlearn {fairlearn.__version__} lacks equal_opportunity_*; computed as "
                "MetricFrame(true_positive_rate).difference/ratio."
            )

    # ---- data-driven notes -------------------------------------------------
    if empty_groups:
        notes.append(
            f"[{key}] empty intersection(s) {empty_groups}: fairlearn {fairlearn.__version__} MetricFrame "
            "by_group contains every combination of the sensitive-feature values (cartesian product), so "
            "an empty cell appears in by_group with all metrics NaN (written as null, including count). "
            "Its NaN is skipped by group_min/group_max/difference/ratio (pandas skipna)."
        )
    for gname, d in bg.items():
        if d["count"] is None:
            continue
        sel = _group_mask(data, attrs, gname)
        yt = y_true[sel]
        yp = y_pred[sel]
        if yt.sum() == 0:
            notes.append(
                f"[{key}] group '{gname}' has no positives in y_true: fairlearn true_positive_rate and "
                "false_negative_rate come out as 0 (confusion_matrix normalize='true' turns 0/0 into 0), "
                "recall/f1 are 0 via zero_division=0, balanced_accuracy is the recall of class 0 only "
                f"(= true_negative_rate = {d['balanced_accuracy']!r}; scikit-learn warns 'y_pred contains "
                "classes not in y_true'), roc_auc is NaN -> null (scikit-learn "
                "UndefinedMetricWarning; older versions raise, caught -> null), average_precision is "
                f"{d['average_precision']!r} (scikit-learn warns 'No positive class found')."
            )
        if (len(yt) - yt.sum()) == 0:
            notes.append(
                f"[{key}] group '{gname}' has no negatives in y_true: fairlearn false_positive_rate and "
                "true_negative_rate come out as 0; roc_auc is null."
            )
        if yp.sum() == 0:
            notes.append(
                f"[{key}] group '{gname}' has no positive predictions: precision/f1 are 0 via "
                "zero_division=0; selection_rate 0."
            )
    return key, block


def _group_mask(data, attrs, gname):
    parts = gname.split("|")
    mask = np.ones(len(data["y_true"]), dtype=bool)
    for a, v in zip(attrs, parts):
        mask &= data["groups"][a] == v
    return mask


# --------------------------------------------------------------------------
# AIF360
# --------------------------------------------------------------------------


def aif360_block(data, attr, notes):
    y_true, y_pred, y_score = data["y_true"], data["y_pred"], data["y_score"]
    values = data["groups"][attr]
    uniq = sorted(set(values.tolist()))
    code_of = {v: float(i) for i, v in enumerate(uniq)}
    sizes = {v: int((values == v).sum()) for v in uniq}
    # Largest group is privileged; ties broken by sorted value order.
    privileged = max(uniq, key=lambda v: (sizes[v], -uniq.index(v)))
    unpriv_values = [v for v in uniq if v != privileged]

    df = pd.DataFrame({
        "label": y_true.astype(float),
        attr: np.array([code_of[v] for v in values], dtype=float),
    })
    ds_kwargs = dict(
        df=df,
        label_names=["label"],
        protected_attribute_names=[attr],
        favorable_label=1.0,
        unfavorable_label=0.0,
        privileged_protected_attributes=[np.array([code_of[privileged]])],
        unprivileged_protected_attributes=[np.array([code_of[v] for v in unpriv_values])],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds_true = BinaryLabelDataset(**ds_kwargs)
        ds_pred = ds_true.copy(deepcopy=True)
        ds_pred.labels = y_pred.astype(float).reshape(-1, 1)
        ds_pred.scores = y_score.astype(float).reshape(-1, 1)

        priv_groups = [{attr: code_of[privileged]}]
        block = OrderedDict()
        block["privileged"] = privileged
        by_unpriv = OrderedDict()
        for v in unpriv_values:
            cm = ClassificationMetric(
                ds_true, ds_pred,
                unprivileged_groups=[{attr: code_of[v]}],
                privileged_groups=priv_groups,
            )
            by_unpriv[v] = OrderedDict([
                ("disparate_impact", num(cm.disparate_impact())),
                ("statistical_parity_difference", num(cm.statistical_parity_difference())),
                ("average_odds_difference", num(cm.average_odds_difference())),
                ("equal_opportunity_difference", num(cm.equal_opportunity_difference())),
            ])
            for k, val in by_unpriv[v].items():
                if val is None:
                    notes.append(
                        f"[aif360 {attr}] {k} for unprivileged '{v}' vs privileged '{privileged}' is NaN/inf "
                        "(AIF360 divides 0/0 or x/0 with numpy and returns NaN/inf, no exception) -> null."
                    )
        block["by_unprivileged"] = by_unpriv

        # Whole-attribute indices. Unprivileged = all non-privileged values (a list of
        # conditions is OR-ed by AIF360), so between_all_groups_* partitions on every value.
        cm_all = ClassificationMetric(
            ds_true, ds_pred,
            unprivileged_groups=[{attr: code_of[v]} for v in unpriv_values],
            privileged_groups=priv_groups,
        )
        block["generalized_entropy_index_alpha2"] = num(cm_all.generalized_entropy_index(alpha=2))
        block["theil_index"] = num(cm_all.theil_index())
        block["between_group_theil_index"] = num(cm_all.between_all_groups_theil_index())
        block["between_group_generalized_entropy_index_alpha2"] = num(
            cm_all.between_all_groups_generalized_entropy_index(alpha=2))
        if len(uniq) == 2:
            # For a binary attribute the two-group AIF360 methods agree with the all-groups ones.
            a = cm_all.between_group_theil_index()
            b = cm_all.between_group_generalized_entropy_index(alpha=2)
            assert math.isclose(a, block["between_group_theil_index"], rel_tol=1e-12, abs_tol=1e-15)
            assert math.isclose(b, block["between_group_generalized_entropy_index_alpha2"],
                                rel_tol=1e-12, abs_tol=1e-15)
        else:
            two = num(cm_all.between_group_theil_index())
            two_ge = num(cm_all.between_group_generalized_entropy_index(alpha=2))
            notes.append(
                f"[aif360 {attr}] {len(uniq)} values: between_group_* here are AIF360's "
                "between_all_groups_theil_index / between_all_groups_generalized_entropy_index(alpha=2) "
                "(every value its own group, each member gets its group's mean benefit). AIF360's "
                "two-group between_group_* (privileged vs all others pooled) would give "
                f"theil={two!r}, ge2={two_ge!r}."
            )
    return block


# --------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------

GENERAL_NOTES = [
    "Scores are kept in [0.0005, 0.9995] and rounded to 6 decimals, so log_loss does not depend on "
    "scikit-learn's probability clipping.",
    "fairlearn metrics come from MetricFrame: label metrics with y_pred, score metrics (roc_auc, "
    "average_precision, brier, log_loss(labels=[0,1])) with y_score passed as y_pred. precision/recall/f1 "
    "use zero_division=0.",
    "roc_auc: for a group with a single class in y_true scikit-learn returns NaN with an "
    "UndefinedMetricWarning (older versions raise ValueError, which is caught); written as null.",
    "difference_*/ratio_* are MetricFrame.difference/ratio over selection_rate, true_positive_rate, "
    "false_positive_rate, accuracy, precision. between_groups difference = max - min; between_groups "
    "ratio = min / max (0/0 -> NaN -> null); to_overall difference = max |group - overall|; to_overall "
    "ratio = min over groups of r if r <= 1 else 1/r, with r = group/overall (pandas min skips NaN; "
    "x/0 -> inf -> 1/inf = 0).",
    "equalized_odds_difference = max(TPR difference, FPR difference); equalized_odds_ratio = "
    "min(TPR ratio, FPR ratio) (fairlearn agg='worst_case').",
    "fairlearn by_group keys: the value; for several attributes the values joined by '|' in the "
    "attribute order of the key (e.g. 'sex&age_band' -> 'F|18-29').",
    "AIF360: protected attribute encoded as float codes (sorted values -> 0,1,2,...); privileged = "
    "largest group (ties: first in sorted order); by_unprivileged uses ClassificationMetric with "
    "unprivileged_groups=[{attr: value}] and privileged_groups=[{attr: privileged}]. disparate_impact "
    "and statistical_parity_difference are on predictions (P(y_pred=1|unpriv) / - P(y_pred=1|priv)); "
    "average_odds_difference = 0.5*((FPR_u-FPR_p)+(TPR_u-TPR_p)); equal_opportunity_difference = "
    "TPR_u - TPR_p (signed, unlike fairlearn's absolute max-min). AIF360 rates divide with numpy: "
    "0/0 -> NaN (null), not 0 as in fairlearn.",
    "AIF360 generalized_entropy_index/theil use benefit b = y_pred - y_true + 1 over all rows; "
    "theil_index = GE(alpha=1).",
]


def build(name):
    maker, keys = DATASETS[name]
    data = maker()
    n = len(data["y_true"])
    for k in ("y_true", "y_pred", "y_score"):
        assert len(data[k]) == n, (name, k)
    for a, v in data["groups"].items():
        assert len(v) == n, (name, a)
        data["groups"][a] = np.asarray(v, dtype=object).astype(str)
    assert set(np.unique(data["y_true"])) <= {0, 1}
    assert set(np.unique(data["y_pred"])) <= {0, 1}
    assert np.all((data["y_score"] >= 0) & (data["y_score"] <= 1))

    notes = list(GENERAL_NOTES)
    fl = OrderedDict()
    for attrs in keys:
        key, block = fairlearn_block(data, attrs, notes)
        fl[key] = block
    aif = OrderedDict()
    for attr in data["groups"]:
        aif[attr] = aif360_block(data, attr, notes)

    out = OrderedDict()
    out["name"] = name
    out["n"] = n
    out["y_true"] = [int(v) for v in data["y_true"]]
    out["y_pred"] = [int(v) for v in data["y_pred"]]
    out["y_score"] = [float(v) for v in data["y_score"]]
    out["groups"] = OrderedDict((a, [str(x) for x in v]) for a, v in data["groups"].items())
    out["versions"] = OrderedDict([
        ("fairlearn", fairlearn.__version__),
        ("aif360", aif360.__version__),
        ("numpy", np.__version__),
        ("pandas", pd.__version__),
        ("scikit-learn", sklearn.__version__),
    ])
    out["fairlearn"] = fl
    out["aif360"] = aif
    out["notes"] = notes
    return out


def dumps(obj):
    return json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if a committed fixture differs from a fresh run")
    args = ap.parse_args(argv)

    bad = 0
    if not args.check:
        args.out.mkdir(parents=True, exist_ok=True)
    for name in DATASETS:
        text = dumps(build(name))
        path = args.out / f"{name}.json"
        if args.check:
            old = path.read_text() if path.exists() else None
            if old != text:
                print(f"DIFFERS: {path}", file=sys.stderr)
                bad += 1
            else:
                print(f"ok: {path}")
        else:
            path.write_text(text)
            print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
