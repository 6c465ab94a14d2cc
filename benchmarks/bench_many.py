"""asv suite for many models from one pass over the data
(``fastlr.train_many`` and ``fastlr.LogisticRegressionCV``).

The rows M1-M5 of the performance table and the scan of the epoch cost
over K, with the code of ``fastlr bench --full`` (``fastlr.bench``), on
smaller data so that a run stays short: 200,000 x 100 float64 (X ~ N(0, 1))
for the dense epochs, 10,000 x 100 (correlated, standardized columns) for
the end-to-end cross-validation against scikit-learn, 200,000 x 1,000,000
CSR (20 entries a row) for the sparse epochs. ``fastlr bench --full``
measures the same at the issue's sizes (1,000,000 x 100; 200,000 x 100 for
the cross-validation).

Every ``track_`` ratio is measured inside one call from interleaved
repetitions, so load from other processes hits both sides alike.
"""

import numpy as np

from fastlr.bench import (
    K_SCAN,
    MANY_K,
    _peak_rss_many,
    cv_comparison,
    epoch_time_fn,
    interleaved,
    make_correlated_workload,
    many_epoch_fn,
    model_bytes,
)

from .common import make_sparse_workload, make_workload

ROWS, FEATURES = 200_000, 100
CV_ROWS = 10_000
REPEATS = 5


class ManyEpoch:
    """One epoch of K models (L2, K strengths) trained from one read of
    each chunk of rows, 200,000 x 100 float64, batch 256: the time grows
    with K only where the arithmetic, not the read of X, is the bound."""

    params = list(K_SCAN)
    param_names = ["K"]
    timeout = 300

    def setup(self, K):
        X, y = make_workload(ROWS, FEATURES, np.float64)
        self.run = many_epoch_fn(X, y, K, 256)
        many_epoch_fn(X[:4096], y[:4096], K, 256)()   # compile / load

    def time_epoch(self, K):
        self.run()


class ManyTargets:
    """M1 (dense, 200,000 x 100 here) and M4 (CSR 200,000 x 1,000,000):
    the epoch of K = 16 models over the epoch of one model trained alone,
    same batch (256) and penalty."""

    timeout = 600
    number = 1
    repeat = 1

    def setup_cache(self):
        # once for both ratios (setup would run once per track_ method)
        X, y = make_workload(ROWS, FEATURES, np.float64)
        dense = interleaved({
            "1": epoch_time_fn(X, y, 256, penalty="l2", alpha=1e-4),
            "K": many_epoch_fn(X, y, MANY_K, 256)}, repeats=REPEATS)
        del X, y
        Xs, ys = make_sparse_workload(ROWS, 1_000_000, 20)
        sparse = interleaved({
            "1": epoch_time_fn(Xs, ys, 256, penalty="l2", alpha=1e-4),
            "K": many_epoch_fn(Xs, ys, MANY_K, 256)}, repeats=REPEATS)
        return {"dense": dense, "sparse": sparse}

    def track_m1_16_models_epoch_time_over_one_model_epoch_time(self, t):
        """Dense; lower is better (target: <= 2.5)."""
        return t["dense"]["K"] / t["dense"]["1"]

    track_m1_16_models_epoch_time_over_one_model_epoch_time.unit = \
        "16 models time / 1 model time"

    def track_m4_csr_16_models_epoch_time_over_one_model_epoch_time(self, t):
        """CSR; lower is better (target: <= 4)."""
        return t["sparse"]["K"] / t["sparse"]["1"]

    track_m4_csr_16_models_epoch_time_over_one_model_epoch_time.unit = \
        "16 models time / 1 model time"


class CrossValidation:
    """M2, M3: ``LogisticRegressionCV(alphas=8, cv=5)`` end to end (the
    joint pass, scoring, refit) against scikit-learn's
    ``LogisticRegressionCV(Cs=8, cv=5)`` and ``GridSearchCV(SGDClassifier(
    loss="log_loss"), 8 alphas, cv=5, n_jobs=1)`` on 8,000 training rows
    of correlated standardized features; the last 2,000 rows score the
    chosen models."""

    timeout = 900
    number = 1
    repeat = 1

    def setup_cache(self):
        X, y = make_correlated_workload(CV_ROWS, FEATURES)
        return cv_comparison(X, y, repeats=3)

    def track_m2_sklearn_lrcv_time_over_fastlr_time(self, res):
        """Higher is better (target: >= 10)."""
        return res["lrcv"]["seconds"] / res["fastlr"]["seconds"]

    track_m2_sklearn_lrcv_time_over_fastlr_time.unit = "sklearn time / fastlr time"

    def track_m2_heldout_log_loss_fastlr_over_sklearn_lrcv(self, res):
        """Held-out log-loss of the chosen models; target <= 1.01."""
        return res["fastlr"]["heldout"] / res["lrcv"]["heldout"]

    track_m2_heldout_log_loss_fastlr_over_sklearn_lrcv.unit = \
        "fastlr log-loss / sklearn log-loss"

    def track_m3_sklearn_grid_time_over_fastlr_time(self, res):
        """Higher is better (target: >= 10)."""
        return res["grid"]["seconds"] / res["fastlr"]["seconds"]

    track_m3_sklearn_grid_time_over_fastlr_time.unit = "sklearn time / fastlr time"

    def track_m3_heldout_log_loss_fastlr_over_sklearn_grid(self, res):
        """Held-out log-loss of the chosen models; target <= 1.01."""
        return res["fastlr"]["heldout"] / res["grid"]["heldout"]

    track_m3_heldout_log_loss_fastlr_over_sklearn_grid.unit = \
        "fastlr log-loss / sklearn log-loss"


class ManyMemory:
    """M5: peak RSS added by ``train_many`` (fresh process, 200,000 x 100
    float64) over the bound K x (model + optimizer state) + 5% of X; K = 16
    strengths without folds, and 8 strengths x 5 folds."""

    params = ["16", "8x5folds"]
    param_names = ["models"]
    timeout = 300
    number = 1
    repeat = 1

    def track_m5_peak_rss_added_over_bound(self, models):
        """At most 1 meets the target."""
        K, folds = (16, None) if models == "16" else (40, 5)
        added, nbytes = _peak_rss_many(ROWS, FEATURES, K, folds)
        return added / (K * model_bytes(FEATURES) + 0.05 * nbytes)

    track_m5_peak_rss_added_over_bound.unit = "added RSS / bound"
