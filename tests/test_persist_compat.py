"""Model files written by earlier fastlr versions: they load, predict as
their writer did and continue training where it stopped (fastlr.persist,
"Format versions" and the notes on ``coef``/``intercept``).

The file in tests/data was written by old trees (``git archive``,
run with NUMBA_DISABLE_JIT=1):

* ``1341d8d_sgd_tol0.npz``: fastlr 0.1.0 at 1341d8d (before the ``solver``
  parameter), ``tol=0``, ``max_iter=3``, ``random_state=0`` on
  :func:`small`.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fastlr
from fastlr import LogisticRegression, persist

DATA = Path(__file__).resolve().parent / "data"
OLD_TOL0 = DATA / "1341d8d_sgd_tol0.npz"

# What the writer of OLD_TOL0 predicted (its own estimator, before saving)
OLD_TOL0_PROBA = [0.49981912203231454, 0.4997687703960675, 0.5265995588463992]


def small():
    X = np.random.default_rng(0).normal(size=(200, 3))
    return X, (X[:, 0] > 0).astype(int)


def arrays_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def rewrite(src, dst, edit_meta=None, edit_arrays=None):
    arrays = arrays_of(src)
    meta = json.loads(arrays["metadata"].tobytes())
    if edit_meta:
        edit_meta(meta)
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    if edit_arrays:
        edit_arrays(arrays)
    np.savez(dst, **arrays)
    return dst


# ---------------------------------------------------------------------------
# Parameters a file lacks take the value its writer trained with


def test_a_file_from_before_the_solver_parameter_is_an_sgd_model(tmp_path):
    """tol=0 ("every epoch") was valid for SGD: the file was refused as
    solver='auto' wants tol > 0, and a warm start ran L-BFGS."""
    X, y = small()
    clf = fastlr.load(OLD_TOL0)
    params = clf.get_params()
    assert params["solver"] == "sgd" and params["tol"] == 0
    assert params["fit_intercept"] is True
    np.testing.assert_allclose(clf.predict_proba(X[:3])[:, 1], OLD_TOL0_PROBA,
                               rtol=1e-12)
    fastlr.save(clf, tmp_path / "again.npz")
    assert persist.read_metadata(tmp_path / "again.npz")["params"]["solver"] == "sgd"
    with pytest.warns(ConvergenceWarning, match=r"epochs \(2\) reached before the "
                      r"loss stopped improving by tol=0"):   # SGD's tol
        clf.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert clf.solver_ == "sgd" and clf.n_solver_iter_ == 0


def test_every_parameter_a_file_lacks_takes_its_writers_value(tmp_path):
    X, y = small()
    path = tmp_path / "m.npz"
    fastlr.save(LogisticRegression(max_iter=3, tol=None).fit(X, y), path)
    added = ["l1_ratio", "learning_rate", "power_t", "average", "early_stopping",
             "validation_fraction", "class_weight", "fit_intercept", "solver"]
    rewrite(path, path, edit_meta=lambda m: [m["params"].pop(k) for k in added])
    got = {k: v for k, v in fastlr.load(path).get_params().items() if k in added}
    assert got == {"l1_ratio": 0.15, "learning_rate": "constant", "power_t": 0.5,
                   "average": False, "early_stopping": False,
                   "validation_fraction": 0.1, "class_weight": None,
                   "fit_intercept": True, "solver": "sgd"}
