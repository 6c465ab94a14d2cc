"""Model files written by earlier fastlr versions: they load, predict as
their writer did and continue training where it stopped (fastlr.persist,
"Format versions" and the notes on ``coef``/``intercept``).

The two files in tests/data were written by old trees (``git archive``,
run with NUMBA_DISABLE_JIT=1):

* ``a2947d1_float32_large_means.npz``: fastlr 0.2.0 at a2947d1 (before the
  float32 intercept rule of 6ab2f6c), ``solver="sgd"``, ``max_iter=20``,
  ``lr=0.05``, ``random_state=0`` on the float32 data of :func:`large_means`;
* ``1341d8d_sgd_tol0.npz``: fastlr 0.1.0 at 1341d8d (before the ``solver``
  parameter), ``tol=0``, ``max_iter=3``, ``random_state=0`` on
  :func:`small`.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from test_persist import rewrite  # the one hand edit of a model file

import fastlr
from fastlr import LogisticRegression, persist
from fastlr.persist import ModelFileError, ModelFileWarning

DATA = Path(__file__).resolve().parent / "data"
OLD_F32 = DATA / "a2947d1_float32_large_means.npz"
OLD_TOL0 = DATA / "1341d8d_sgd_tol0.npz"

# What the writer of OLD_TOL0 predicted (its own estimator, before saving)
OLD_TOL0_PROBA = [0.49981912203231454, 0.4997687703960675, 0.5265995588463992]


def small():
    X = np.random.default_rng(0).normal(size=(200, 3))
    return X, (X[:, 0] > 0).astype(int)


def arrays_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}




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


def test_files_are_written_as_format_version_3_and_version_1_loads(tmp_path):
    X, y = small()
    fastlr.save(LogisticRegression(max_iter=3, tol=None).fit(X, y), tmp_path / "m.npz")
    assert persist.FORMAT_VERSION == 3
    assert persist.read_metadata(tmp_path / "m.npz")["format_version"] == 3
    assert persist.read_metadata(OLD_TOL0)["format_version"] == 1


def test_a_version_2_file_loads(tmp_path):
    """Version 3 changed what the parameters may hold, not how a file is
    read: a file of fastlr 0.3.0 still loads and predicts the same."""
    X, y = small()
    clf = LogisticRegression(alpha=1e-4, standardize=True, max_iter=3, tol=None,
                             random_state=0).fit(X, y)
    fastlr.save(clf, tmp_path / "m.npz")
    old = rewrite(tmp_path / "m.npz", tmp_path / "v2.npz",
                  edit_meta=lambda m: m.__setitem__("format_version", 2))
    back = fastlr.load(old)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


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
    with pytest.raises(ModelFileError, match=r"format version 4, written by fastlr "
                       r"'9.0'; this fastlr reads format version 3: upgrade fastlr"):
        fastlr.load(path)


def test_a_known_version_with_unknown_arrays_is_still_refused_by_them(tmp_path):
    path = rewrite(OLD_TOL0, tmp_path / "extra.npz",
                   edit_arrays=lambda a: a.__setitem__("momentum", np.zeros(3)))
    with pytest.raises(ModelFileError, match=r"unexpected arrays \['momentum'\]"):
        fastlr.load(path)


# ---------------------------------------------------------------------------
# The model a float32 file holds is the one the loaded model shows


# What the writer of OLD_F32 predicted (its own estimator, before saving)
OLD_F32_INTERCEPT = -7012035.0
OLD_F32_PREDICT = ("97fa581fa8ac7fd0e0dd78b71be6a167cbb6bd3c9cdaebd93b8a8edb5a29"
                   "65ed7bcae25f321db81d6579d77538aaea19746e")   # np.packbits, hex
OLD_F32_PROBA = [0.8962465524673462, 0.4201379418373108, 0.049161095172166824]


def large_means():
    """400 float32 rows, columns of mean 4e6 to 2e7 and spread 1."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    X[:, :5] += 4e6 * np.arange(1, 6)
    y = ((X[:, :5] - X[:, :5].mean(0)) @ np.array([3.0, -2.0, 4.0, 1.0, -3.0])
         + X[:, 5] + rng.logistic(size=400) > 0).astype(int)
    return X.astype(np.float32), y


def test_an_old_float32_file_predicts_as_its_writer_did():
    """Its intercept is of the rule before 6ab2f6c: rebuilt by today's rule
    it was 0.5 (one float32 unit) off, and 38 of the 400 labels flipped."""
    X, _ = large_means()
    stored = arrays_of(OLD_F32)
    clf = fastlr.load(OLD_F32)
    assert clf.intercept_.tolist() == [OLD_F32_INTERCEPT] == stored["intercept"].tolist()
    np.testing.assert_array_equal(clf.coef_, stored["coef"])
    assert clf.coef_.dtype == clf.intercept_.dtype == np.float32
    want = np.unpackbits(np.frombuffer(bytes.fromhex(OLD_F32_PREDICT), np.uint8))
    np.testing.assert_array_equal(clf.predict(X), want[:400])
    np.testing.assert_allclose(clf.predict_proba(X[:3])[:, 1], OLD_F32_PROBA,
                               rtol=1e-6)


def test_an_old_float32_model_saved_again_keeps_its_intercept(tmp_path):
    clf = fastlr.load(OLD_F32)
    fastlr.save(clf, tmp_path / "again.npz")
    assert arrays_of(tmp_path / "again.npz")["intercept"].tolist() == [OLD_F32_INTERCEPT]
    back = fastlr.load(tmp_path / "again.npz")
    assert back.intercept_.tolist() == [OLD_F32_INTERCEPT]


def test_an_old_float32_model_continues_from_its_training_state():
    """Read (by predict) or not, coef_ is the stored model, and training
    continues from w, b, mean, scale and the optimizer state, not from
    coef_ as if set by hand; the model it trains is derived by today's
    rule."""
    X, y = large_means()
    read, unread = fastlr.load(OLD_F32), fastlr.load(OLD_F32)
    state = read.training_state_
    read.predict(X)
    for clf in (read, unread):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(read.coef_, unread.coef_)
    np.testing.assert_array_equal(read.intercept_, unread.intercept_)
    new = read.training_state_
    np.testing.assert_array_equal(new.steps, unread.training_state_.steps)
    assert new.steps[0] == state.steps[0] + 13   # one epoch of 400 rows in 32s
    assert new.mean.any() and new.stored is None
    shown = new.raw(dtype=np.float32)
    np.testing.assert_array_equal(read.coef_, shown[0])
    np.testing.assert_array_equal(read.intercept_, shown[1].astype(np.float32))
    warm = fastlr.load(OLD_F32)
    warm.predict(X)
    warm.set_params(warm_start=True, max_iter=1, tol=None).fit(X, y)
    assert warm.training_state_.steps[0] == state.steps[0] + 13


@pytest.mark.parametrize("ulps, loads", [(0, True), (-1, True), (1, False), (-3, False)])
def test_an_intercept_off_both_rules_is_refused(tmp_path, ulps, loads):
    """The check allowed 1e-5 of |b| + |w / scale| . |mean| (here 402, 800
    float32 units of 0.5): now a unit around either rule's intercept
    (-7012035.15 before 6ab2f6c, stored as -7012035.0; -7012035.5 by
    today's, as rounded)."""
    path = rewrite(OLD_F32, tmp_path / "edited.npz", edit_arrays=lambda a: a.__setitem__(
        "intercept", a["intercept"] + np.float32(ulps * 0.5)))
    if loads:
        assert fastlr.load(path).intercept_[0] == OLD_F32_INTERCEPT + ulps * 0.5
    else:
        with pytest.raises(ModelFileError, match="do not match the standardized"):
            fastlr.load(path)


def test_a_current_float32_file_shows_the_state_model(tmp_path):
    """A file written today holds what the state gives: nothing is stored
    beside the state, and it round-trips bit for bit."""
    X, y = large_means()
    clf = LogisticRegression(solver="sgd", max_iter=5, lr=0.05, tol=None,
                             random_state=0).fit(X, y)
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert back.training_state_.stored is None
    np.testing.assert_array_equal(back.intercept_, clf.intercept_)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


# ---------------------------------------------------------------------------
# What a version-1 file lacks


def _without_steps(src, dst, version=1):
    """A file as versions before a2947d1 wrote it: no step count before
    averaging started."""
    return rewrite(src, dst, edit_meta=lambda m: m.__setitem__("format_version", version),
                   edit_arrays=lambda a: a.pop("steps"))


def test_a_version_1_file_without_its_step_count_warns_where_it_matters(tmp_path):
    X, y = small()
    clf = LogisticRegression(solver="sgd", average=40, max_iter=2, tol=None,
                             random_state=0).fit(X, y)
    assert 0 < clf.training_state_.steps[0] < 40
    fastlr.save(clf, tmp_path / "m.npz")
    old = _without_steps(tmp_path / "m.npz", tmp_path / "old.npz")
    with pytest.warns(ModelFileWarning, match=r"old.npz: written by fastlr .* step "
                      r"count.*average=40 starts averaging 40 steps after the load"):
        back = fastlr.load(old)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastlr.load(tmp_path / "m.npz")   # the step count kept
        persist.read_metadata(old)        # not loading a model to continue
        # a version-2 file without steps took none
        fastlr.load(_without_steps(tmp_path / "m.npz", tmp_path / "v2.npz", 2))
        # without averaging the count does not matter to its own parameters
        fastlr.save(LogisticRegression(solver="sgd", max_iter=2, tol=None).fit(X, y),
                    tmp_path / "plain.npz")
        fastlr.load(_without_steps(tmp_path / "plain.npz", tmp_path / "old2.npz"))


def test_the_cli_warns_of_missing_steps_only_where_training_continues(tmp_path, capsys):
    """``fastlr predict``/``evaluate`` of a file lacking its step count load
    it to predict, which that does not affect: no warning (review); a
    ``--warm-start`` continues it and warns."""
    from fastlr import cli

    X, y = small()
    clf = LogisticRegression(solver="sgd", average=40, max_iter=2, tol=None,
                             random_state=0).fit(X, y)
    fastlr.save(clf, tmp_path / "m.npz")
    old = _without_steps(tmp_path / "m.npz", tmp_path / "old.npz")
    data = tmp_path / "d.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="a,b,c,label",
               comments="")
    capsys.readouterr()
    assert cli.main(["predict", "--model", str(old), str(data), "--by-position",
                     "--out", str(tmp_path / "p.csv")]) == 0
    assert cli.main(["evaluate", "--model", str(old), str(data), "--by-position"]) == 0
    assert "step count" not in capsys.readouterr().err
    assert cli.main(["train", str(data), "--warm-start", str(old), "--solver", "sgd",
                     "--epochs", "1", "--by-position", "--quiet"]) == 0
    assert "step count" in capsys.readouterr().err


def test_a_warm_start_models_tol_is_not_blamed_on_the_option(tmp_path, capsys):
    """``--warm-start`` from a model trained with ``tol=0`` (SGD, as old
    files are) and ``--solver auto``: the error names the model's tol, not
    an ``--tol`` the user did not give (review)."""
    from fastlr import cli

    X, y = small()
    data = tmp_path / "d.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="a,b,c,label",
               comments="")
    with pytest.warns(ConvergenceWarning):   # tol=0 runs every epoch
        fastlr.save(LogisticRegression(solver="sgd", tol=0, max_iter=2).fit(X, y),
                    tmp_path / "m.npz")
    assert cli.main(["train", str(data), "--warm-start", str(tmp_path / "m.npz"),
                     "--solver", "auto", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "--warm-start" in err and "tol=0" in err and "argument --tol" not in err
    # given on the command line, it is the option's usage error, as before
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", str(data), "--warm-start", str(tmp_path / "m.npz"),
                  "--solver", "auto", "--tol", "0"])
    assert exc.value.code == 2
