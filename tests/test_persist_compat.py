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
from fastlr.persist import ModelFileError

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


# ---------------------------------------------------------------------------
# Format versions


def test_files_are_written_as_format_version_2_and_version_1_loads(tmp_path):
    X, y = small()
    fastlr.save(LogisticRegression(max_iter=3, tol=None).fit(X, y), tmp_path / "m.npz")
    assert persist.FORMAT_VERSION == 2
    assert persist.read_metadata(tmp_path / "m.npz")["format_version"] == 2
    assert persist.read_metadata(OLD_TOL0)["format_version"] == 1


@pytest.mark.parametrize("edit_arrays", [
    lambda a: a.__setitem__("momentum", np.zeros(3)),
    lambda a: a.pop("b"),
    None,
], ids=["new_array", "array_dropped", "new_parameter"])
def test_a_newer_format_is_refused_as_such_before_anything_else(tmp_path, edit_arrays):
    """Whatever else a newer format changed, the error says to upgrade
    (it said "unexpected arrays" or "unknown parameters")."""
    def edit_meta(meta):
        meta["format_version"] = persist.FORMAT_VERSION + 1
        meta["fastlr_version"] = "9.0"
        meta["params"]["momentum"] = 0.9
    path = rewrite(OLD_TOL0, tmp_path / "newer.npz", edit_meta, edit_arrays)
    with pytest.raises(ModelFileError, match=r"format version 3, written by fastlr "
                       r"'9.0'; this fastlr reads format version 2: upgrade fastlr"):
        fastlr.load(path)


def test_a_known_version_with_unknown_arrays_is_still_refused_by_them(tmp_path):
    path = rewrite(OLD_TOL0, tmp_path / "extra.npz",
                   edit_arrays=lambda a: a.__setitem__("momentum", np.zeros(3)))
    with pytest.raises(ModelFileError, match=r"unexpected arrays \['momentum'\]"):
        fastlr.load(path)
