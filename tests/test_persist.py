"""fastlr.save / fastlr.load: pickle-free, atomic, checked model files."""

import copy
import errno
import json
import os
import zipfile

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import fastlr
from fastlr import LogisticRegression, persist
from fastlr.persist import ModelFileError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [1.0, 5.0, 0.1] + [0.0, 3.0, -1.0]
    y = (X[:, 0] + 0.2 * X[:, 1] + rng.logistic(size=200) > 0.6).astype(np.int64)
    return X, y


def fitted(X, y, **kw):
    params = dict(lr=0.05, max_iter=20, tol=None, random_state=3)
    return LogisticRegression(**{**params, **kw}).fit(X, y)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, data):
    X, y = data
    path = tmp_path_factory.mktemp("model") / "model.npz"
    fastlr.save(fitted(X, np.array(["no", "yes"])[y]), path)
    return path


@pytest.mark.parametrize("labels", [
    np.array([0, 1]), np.array([-1, 1]), np.array([0.0, 1.0]),
    np.array(["ham", "spam"]), np.array([False, True]),
], ids=["int01", "int_pm1", "float", "str", "bool"])
def test_round_trip_predicts_identically(tmp_path, data, labels):
    X, y = data
    clf = fitted(X, labels[y])
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert isinstance(back, LogisticRegression)
    assert back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    assert back.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(back.coef_, clf.coef_)
    np.testing.assert_array_equal(back.intercept_, clf.intercept_)
    np.testing.assert_array_equal(back.loss_curve_, clf.loss_curve_)
    assert back.n_iter_ == clf.n_iter_ and back.n_features_in_ == 3
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("params", [
    {}, {"solver": "auto", "max_iter": 30}, {"solver": "lbfgs"},
    {"early_stopping": True, "validation_fraction": 0.2, "tol": 1e-3,
     "n_iter_no_change": 2, "max_iter": 200},
], ids=["sgd", "auto", "lbfgs", "early_stopping"])
def test_the_fit_report_round_trips(tmp_path, data, params):
    """``solver_``, ``n_solver_iter_``, ``validation_scores_`` and
    ``best_validation_score_`` (fitted attributes the estimator documents)
    were lost by save and load: reading them raised AttributeError."""
    X, y = data
    clf = fitted(X, y, **params)
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    for name in ("solver_", "n_solver_iter_", "best_validation_score_"):
        assert getattr(back, name) == getattr(clf, name), name
    if clf.validation_scores_ is None:
        assert back.validation_scores_ is None
    else:
        np.testing.assert_array_equal(back.validation_scores_, clf.validation_scores_)
    # continued by partial_fit: more epochs than scores (its file was
    # refused by load)
    clf.partial_fit(X, y)
    fastlr.save(clf, tmp_path / "c.npz")
    again = fastlr.load(tmp_path / "c.npz")
    assert again.n_iter_ == clf.n_iter_
    if clf.validation_scores_ is not None:
        np.testing.assert_array_equal(again.validation_scores_,
                                      clf.validation_scores_)
    # a model only partial_fit trained: SGD epochs' report, loaded as saved
    # (it had none, and lacked the attributes documented as None)
    part = LogisticRegression(random_state=0).partial_fit(X, y, classes=[0, 1])
    fastlr.save(part, tmp_path / "p.npz")
    back = fastlr.load(tmp_path / "p.npz")
    assert (back.solver_, back.n_solver_iter_, back.validation_scores_,
            back.best_validation_score_) == ("sgd", 0, None, None)
    # a file that kept no report (such a model, written before it had one):
    # no held-out scores, as documented
    for name in ("solver_", "n_solver_iter_", "validation_scores_",
                 "best_validation_score_"):
        delattr(part, name)
    fastlr.save(part, tmp_path / "old.npz")
    old = fastlr.load(tmp_path / "old.npz")
    assert not hasattr(old, "solver_")
    assert old.validation_scores_ is None and old.best_validation_score_ is None
    # partial_fit continues it: its last training is SGD epochs (review)
    old.partial_fit(X, y)
    assert (old.solver_, old.n_solver_iter_) == ("sgd", 0)


def test_object_string_classes_load_as_objects(tmp_path, data):
    """Labels from a pandas object column give object ``classes_``; they
    came back as a unicode array, and predict changed its dtype."""
    X, y = data
    clf = fitted(X, np.array(["no", "yes"], dtype=object)[y])
    assert clf.classes_.dtype == object
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert back.classes_.dtype == object and back.predict(X).dtype == object
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))


def test_float32_model_stays_float32(tmp_path, data):
    X, y = data
    clf = fitted(X.astype(np.float32), y)
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert back.coef_.dtype == back.intercept_.dtype == np.float32
    np.testing.assert_array_equal(back.coef_, clf.coef_)


def test_training_continues_after_load(tmp_path, data):
    """The standardization and standardized weights are saved: warm_start and
    partial_fit continue exactly as the original estimator would."""
    X, y = data
    clf = fitted(X, y, solver="sgd")
    fastlr.save(clf, tmp_path / "m.npz")
    a, b = copy.deepcopy(clf), fastlr.load(tmp_path / "m.npz")
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert b.n_iter_ == clf.n_iter_ + 1
    a, b = copy.deepcopy(clf), fastlr.load(tmp_path / "m.npz")
    a.set_params(warm_start=True, max_iter=5).fit(X, y)
    b.set_params(warm_start=True, max_iter=5).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(b.coef_, clf.coef_)


@pytest.mark.parametrize("before, after", [
    ({"average": 40}, {}),                  # saved before averaging starts
    ({}, {"learning_rate": "invscaling"}),  # continued under another schedule
    ({}, {"average": 25}),
    ({"learning_rate": "optimal"}, {}),
    ({}, {"learning_rate": "optimal"}),
])
def test_the_step_count_is_saved_before_it_matters(tmp_path, data, before, after):
    """The SGD step count decides when averaging starts and the size of
    invscaling's and "optimal"'s steps: a model saved before either used it (it was saved
    only once averaging had started or with invscaling) continues as the
    original does, under its own parameters or changed ones."""
    X, y = data
    clf = fitted(X, y, solver="sgd", max_iter=3, batch_size=32, **before)
    assert 0 < clf.training_state_.steps[0] < 40 and clf.training_state_.steps[1] == 0
    fastlr.save(clf, tmp_path / "m.npz")
    a, b = copy.deepcopy(clf), fastlr.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(b.training_state_.steps, clf.training_state_.steps)
    for est in (a, b):
        est.set_params(**after).partial_fit(X, y)
        est.partial_fit(X, y)
    np.testing.assert_array_equal(a.training_state_.steps, b.training_state_.steps)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_partial_fit_model_round_trips(tmp_path, data):
    X, y = data
    clf = LogisticRegression(random_state=0)
    for chunk in np.array_split(np.arange(200), 3):
        clf.partial_fit(X[chunk], y[chunk], classes=[0, 1])
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert back.n_iter_ == 3
    clf.partial_fit(X, y)
    back.partial_fit(X, y)
    np.testing.assert_array_equal(back.coef_, clf.coef_)


@pytest.mark.parametrize("weight", [1e-3, "fraction", 1e30])
def test_weighted_fit_round_trips(tmp_path, data, weight):
    """A fit with sample weights keeps their total as its running
    statistics' row count, and the file keeps it: it was written as int64,
    so a total below 1 wrote 0 (which load refused: save wrote a file it
    could not read), a fraction was cut (a later partial_fit moved the
    standardization differently after a round trip), and a total above
    2**63 made save raise OverflowError."""
    X, y = data
    sw = (np.random.default_rng(0).uniform(0.01, 0.05, X.shape[0])
          if weight == "fraction" else np.full(X.shape[0], weight))
    clf = LogisticRegression(random_state=0).fit(X, y, sample_weight=sw)
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert back.training_state_.moments.rows == clf.training_state_.moments.rows
    more = np.random.default_rng(1).normal(size=X.shape) * 3.0 + 5.0
    clf.partial_fit(more, y)
    back.partial_fit(more, y)
    np.testing.assert_array_equal(back.training_state_.scale, clf.training_state_.scale)
    np.testing.assert_array_equal(back.coef_, clf.coef_)


def test_feature_names_round_trip(tmp_path, data):
    X, y = data
    clf = fitted(X, y)
    clf.feature_names_in_ = np.array(["a", "b", "c"], dtype=object)
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert back.feature_names_in_.tolist() == ["a", "b", "c"]


def test_documented_format(model_file):
    """A plain .npz: every array loads without pickle; JSON metadata."""
    with np.load(model_file, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    # steps: solver="auto"'s first epoch, an SGD step (one batch of 200 rows)
    assert set(arrays) == {"metadata", "classes", "coef", "intercept", "mean",
                           "scale", "w", "b", "loss_curve", "stats", "stats_rows",
                           "steps"}
    assert arrays["steps"].tolist() == [1, 0]
    assert all(a.dtype != object for a in arrays.values())
    meta = json.loads(arrays["metadata"].tobytes().decode("utf-8"))
    assert meta["format"] == "fastlr-model" and meta["format_version"] == 3
    assert meta["fastlr_version"] == fastlr.__version__
    assert meta["estimator"] == "LogisticRegression"
    assert meta["params"]["lr"] == 0.05 and meta["n_features_in"] == 3
    assert arrays["classes"].tolist() == ["no", "yes"]
    assert meta["classes_dtype"] == arrays["classes"].dtype.str
    # coef is the standardized model mapped back to raw feature space
    w_raw = arrays["w"] / arrays["scale"]
    np.testing.assert_allclose(arrays["coef"][0], w_raw, rtol=1e-12)
    np.testing.assert_allclose(arrays["intercept"][0],
                               arrays["b"][0] - w_raw @ arrays["mean"], rtol=1e-9)
    # the running statistics of the 200 training rows, which centers
    amax, mean, m2 = arrays["stats"]
    assert arrays["stats_rows"].tolist() == [200, 1]
    np.testing.assert_array_equal(mean, arrays["mean"])
    np.testing.assert_allclose(np.sqrt(m2 / 200) * amax, arrays["scale"], rtol=1e-12)


def test_metadata_round_trip(tmp_path, data):
    X, y = data
    fastlr.save(fitted(X, y), tmp_path / "m.npz",
                metadata={"data": {"file": "d.csv", "feature_names": ["a", "b"]}})
    meta = persist.read_metadata(tmp_path / "m.npz")
    assert meta["metadata"] == {"data": {"file": "d.csv", "feature_names": ["a", "b"]}}
    with pytest.raises(TypeError, match="metadata must be JSON-serializable"):
        fastlr.save(fitted(X, y), tmp_path / "x.npz", metadata={"f": object()})
    with pytest.raises(TypeError, match="metadata must be a dict"):
        fastlr.save(fitted(X, y), tmp_path / "x.npz", metadata=[1])
    assert not (tmp_path / "x.npz").exists()


def test_generator_random_state_is_saved_as_null(tmp_path, data):
    X, y = data
    clf = fitted(X, y, random_state=np.random.default_rng(5))
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    assert back.random_state is None
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


# --------------------------------------------------------------------------
# saving errors and atomicity


def test_saving_unfitted_or_foreign_models(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted: call fit"):
        fastlr.save(LogisticRegression(), tmp_path / "m.npz")
    assert issubclass(NotFittedError, ValueError)
    from sklearn.linear_model import LogisticRegression as SkLR

    with pytest.raises(TypeError, match="must be a fastlr.LogisticRegression"):
        fastlr.save(SkLR(), tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("param, value, exc", [
    ("verbose", "yes", TypeError), ("verbose", -1, ValueError),
    ("max_iter", -1, ValueError), ("max_iter", 1.5, TypeError),
    ("random_state", -3, ValueError), ("lr", 0.0, ValueError),
])
def test_save_refuses_a_parameter_load_would_refuse(tmp_path, data, param, value,
                                                    exc):
    """A parameter set after fitting that ``fit`` refuses: ``save`` names it
    and writes nothing, rather than a file ``load`` refuses (it wrote
    verbose="yes" and max_iter=-1, which load then refused)."""
    X, y = data
    model = fitted(X, y).set_params(**{param: value})
    with pytest.raises(exc, match=param):
        fastlr.save(model, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("tamper, reason", [
    (lambda m: m.coef_.fill(np.nan), "'coef' contains NaN"),
    (lambda m: setattr(m, "coef_", m.coef_[:, :2]), "'coef' has shape"),
    (lambda m: setattr(m, "intercept_", np.array([np.inf])), "'intercept'"),
    (lambda m: setattr(m, "intercept_", np.array([0.1])) or
     setattr(m, "coef_", m.coef_.astype(np.float32)), "set them both as float64"),
], ids=["nan_coef", "coef_shape", "inf_intercept", "mixed_dtypes"])
def test_save_refuses_fitted_attributes_load_would_refuse(tmp_path, data, tamper,
                                                          reason):
    """Fitted attributes changed by hand: ``save`` refuses, naming the model
    and load's reason, and the file already at the path is untouched (it
    wrote files that ``load`` then refused)."""
    X, y = data
    path = tmp_path / "m.npz"
    fastlr.save(fitted(X, y), path)
    before = path.read_bytes()
    model = fitted(X, y, random_state=4)
    tamper(model)
    with pytest.raises(ValueError, match=f"model cannot be saved.*{reason}"):
        fastlr.save(model, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


@pytest.mark.parametrize("three", [False, True], ids=["binary", "multinomial"])
@pytest.mark.parametrize("tamper, exc, said", [
    (lambda m: delattr(m, "intercept_"), NotFittedError, "it has no intercept_ "),
    (lambda m: delattr(m, "coef_"), NotFittedError, "it has no coef_ "),
    (lambda m: delattr(m, "classes_"), NotFittedError, "it has no classes_ "),
    (lambda m: delattr(m, "n_features_in_"), NotFittedError,
     "it has no n_features_in_ "),
    (lambda m: delattr(m, "coef_") or delattr(m, "intercept_"), NotFittedError,
     "it has no coef_ and no intercept_ .*or set them"),
    (lambda m: setattr(m, "intercept_", None), ValueError,
     "intercept_ must be an array of real numbers, got NoneType None"),
    (lambda m: setattr(m, "coef_", "w"), ValueError,
     "coef_ must be an array of real numbers, got str 'w'"),
    (lambda m: setattr(m, "coef_", m.coef_ > 0), ValueError,
     "coef_ must be an array of real numbers, got an array of dtype bool"),
    (lambda m: setattr(m, "classes_", None), ValueError,
     "classes_ must be a 1-D array of the class labels, got NoneType None"),
    (lambda m: setattr(m, "classes_", m.classes_[None]), ValueError,
     r"classes_ must be a 1-D array .* shape \(1, [23]\)"),
], ids=["del_intercept", "del_coef", "del_classes", "del_n_features_in",
        "del_both", "intercept_none", "coef_text", "coef_bool", "classes_none",
        "classes_2d"])
def test_save_names_a_fitted_attribute_deleted_or_of_the_wrong_kind(
        tmp_path, data, three, tamper, exc, said):
    """A fitted attribute deleted after fitting (or set to something that
    is not an array of its kind) failed deep inside save as a bare
    AttributeError ('object has no attribute intercept_') or TypeError
    ('iteration over a 0-d array'); it is refused naming the attribute, as
    scikit-learn's check_is_fitted names missing ones, and nothing is
    written."""
    X, y = data
    model = fitted(X, np.digitize(X[:, 0], [-0.5, 0.5]) if three else y)
    tamper(model)
    with pytest.raises(exc, match=f"^model cannot be saved: {said}"):
        fastlr.save(model, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", ["changed_in_place", "set", "set_int", "csr",
                                  "three_classes", "no_intercept"])
def test_coef_set_by_hand_is_saved_as_training_continues_it(tmp_path, data, kind):
    """``coef_``/``intercept_`` set by hand after fitting, which predictions
    use and ``partial_fit``/``warm_start`` continue from (a new state holding
    them, fresh optimizer), are saved as that state: the loaded model
    predicts as the estimator does and continues as it does, bit for bit,
    ``n_iter_`` and ``loss_curve_`` started afresh as the estimator starts
    them. ``save`` refused them ("'coef'/'intercept' do not match the
    standardized weights"): online probe F3."""
    import scipy.sparse as sp

    X, y = data
    kw = dict(average=3, learning_rate="adagrad", lr=0.1)
    if kind == "csr":
        X = sp.csr_matrix(X)
    elif kind == "three_classes":
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    elif kind == "no_intercept":
        kw["fit_intercept"] = False
    clf = fitted(X, y, max_iter=3, **kw)
    rows = clf.coef_.shape[0]
    if kind == "changed_in_place":
        clf.coef_ *= 2.0
    elif kind == "set_int":
        clf.coef_, clf.intercept_ = np.array([[2, 0, -1]]), np.array([1])
    else:
        clf.coef_ = np.linspace(-1.0, 1.0, rows * 3).reshape(rows, 3)
        clf.intercept_ = np.zeros(rows) if kind == "no_intercept" else np.full(rows, 0.3)
    fastlr.save(clf, tmp_path / "m.npz")
    loaded = fastlr.load(tmp_path / "m.npz")
    for method in ("decision_function", "predict_proba", "predict"):
        want, got = getattr(clf, method)(X), getattr(loaded, method)(X)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert loaded.n_iter_ == 0 and loaded.loss_curve_.shape == (0,)
    ours, theirs = copy.deepcopy(clf), copy.deepcopy(loaded)
    for part in (slice(0, 120), slice(120, None)):
        ours.partial_fit(X[part], y[part])
        theirs.partial_fit(X[part], y[part])
    for name in ("coef_", "intercept_", "loss_curve_"):
        np.testing.assert_array_equal(getattr(theirs, name), getattr(ours, name))
    assert (theirs.n_iter_, theirs.solver_) == (ours.n_iter_, ours.solver_) == (2, "sgd")
    for model in (clf, loaded):
        model.set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(loaded.coef_, clf.coef_)
    np.testing.assert_array_equal(loaded.intercept_, clf.intercept_)


def test_a_boolean_verbose_round_trips(tmp_path, data):
    """``verbose=True`` is accepted by ``fit`` (scikit-learn's convention):
    the file it saves loads (load refused it: "verbose must be an
    integer")."""
    X, y = data
    fastlr.save(fitted(X, y, verbose=True), tmp_path / "m.npz")
    assert fastlr.load(tmp_path / "m.npz").verbose is True


def test_a_bytes_path_is_a_path(tmp_path, data):
    """``save`` takes a bytes path as ``load``, ``open`` and ``np.save`` do
    (it failed with "cannot use a string pattern on a bytes-like
    object")."""
    X, y = data
    path = os.fsencode(tmp_path / "m.npz")
    fastlr.save(fitted(X, y), path)
    np.testing.assert_array_equal(fastlr.load(path).predict(X), fitted(X, y).predict(X))


@pytest.mark.parametrize("dangling", [False, True], ids=["to_a_file", "dangling"])
def test_a_symlink_target_is_followed_and_stays_a_link(tmp_path, data, dangling):
    """Saving to a symbolic link writes the file it names, as ``open(path,
    "w")`` does; the rename used to replace the link with a regular file and
    leave the linked file holding the old model."""
    X, y = data
    (tmp_path / "models").mkdir()
    real = tmp_path / "models" / "real.npz"
    if not dangling:
        fastlr.save(fitted(X, y, alpha=1.0), real)
    link = tmp_path / "current.npz"
    link.symlink_to(real)
    clf = fitted(X, y)
    fastlr.save(clf, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    np.testing.assert_array_equal(fastlr.load(real).coef_, clf.coef_)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.npz", "models"]
    assert [p.name for p in real.parent.iterdir()] == ["real.npz"]


def test_a_loop_of_symbolic_links_is_refused(tmp_path, data):
    """A target that is a loop of links is refused as ``open`` refuses it
    (ELOOP, naming the path) and stays a link; it was replaced by a regular
    file."""
    X, y = data
    loop_a, loop_b = tmp_path / "a.npz", tmp_path / "b.npz"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    with pytest.raises(OSError, match="symbolic links") as exc:
        fastlr.save(fitted(X, y), loop_a)
    assert exc.value.errno == errno.ELOOP and exc.value.filename == str(loop_a)
    assert loop_a.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]


def test_missing_directory_names_the_target(tmp_path, data):
    X, y = data
    target = tmp_path / "no" / "m.npz"
    with pytest.raises(FileNotFoundError) as exc:
        fastlr.save(fitted(X, y), target)
    assert exc.value.filename == str(target)


def test_file_permissions_follow_umask(tmp_path, data):
    X, y = data
    fastlr.save(fitted(X, y), tmp_path / "m.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "m.npz").st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_crash_mid_write_keeps_the_old_file(tmp_path, data, monkeypatch, where):
    X, y = data
    path = tmp_path / "m.npz"
    old = fitted(X, y)
    fastlr.save(old, path)
    before = path.read_bytes()

    class Crash(Exception):
        pass

    def crash(*args, **kwargs):
        if where == "write":  # half an archive on disk, then the crash
            args[0].write(b"PK\x03\x04 half a model")
        raise Crash

    target = {"write": (np, "savez"), "fsync": (os, "fsync"),
              "replace": (os, "replace")}[where]
    monkeypatch.setattr(*target, crash)
    with pytest.raises(Crash):
        fastlr.save(fitted(X, y, max_iter=3), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]  # the temporary file is gone
    np.testing.assert_array_equal(fastlr.load(path).coef_, old.coef_)


def test_a_full_disk_names_the_file(tmp_path, data, monkeypatch):
    """A write that fails without a file name (ENOSPC from fsync on a full
    disk) is raised naming the target, as a failed open() is (it said only
    "[Errno 28] No space left on device"); the old file stays."""
    import errno

    X, y = data
    path = tmp_path / "m.npz"
    fastlr.save(fitted(X, y), path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as exc:
        fastlr.save(fitted(X, y, max_iter=3), path)
    monkeypatch.undo()
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_write_is_fsynced_before_replace(tmp_path, data, monkeypatch):
    X, y = data
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append("replace"),
                                                     real_replace(a, b))[1])
    fastlr.save(fitted(X, y), tmp_path / "m.npz")
    assert calls[:2] == ["fsync", "replace"]


# --------------------------------------------------------------------------
# loading damaged or edited files


def rewrite(src, dst, edit_meta=None, edit_arrays=None):
    """Copy a model file, editing its metadata and arrays (a hand edit)."""
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["metadata"].tobytes())
    if edit_meta:
        edit_meta(meta)
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    if edit_arrays:
        edit_arrays(arrays)
    np.savez(dst, **arrays)
    return dst


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastlr.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("content", [b"", b"hello, world\n", b"PK\x03\x04garbage"],
                         ids=["empty", "text", "bad_zip"])
def test_not_a_model_file(tmp_path, content):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=f"^{path}: not a valid fastlr model "
                       "file"):
        fastlr.load(path)


def test_other_npz_files_are_rejected(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.ones((2, 2)), y=np.arange(2))
    with pytest.raises(ModelFileError, match="missing arrays"):
        fastlr.load(tmp_path / "a.npz")
    np.save(tmp_path / "b.npy", np.ones(3))
    with pytest.raises(ModelFileError, match="not an .npz"):
        fastlr.load(tmp_path / "b.npy")


def test_every_truncation_is_a_clear_error(tmp_path, model_file):
    data = model_file.read_bytes()
    path = tmp_path / "cut.npz"
    for n in sorted({*range(0, len(data), max(1, len(data) // 60)), len(data) - 1}):
        path.write_bytes(data[:n])
        with pytest.raises(ModelFileError) as exc:
            fastlr.load(path)
        assert str(path) in str(exc.value)


def test_flipped_bytes_never_load_silently_wrong(tmp_path, model_file, data):
    """Any single damaged byte either raises ModelFileError or (in zip
    bookkeeping that no reader uses) leaves the same model."""
    X, _ = data
    good = fastlr.load(model_file).predict_proba(X)
    raw = model_file.read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "flip.npz"
    for pos in rng.choice(len(raw), size=80, replace=False):
        damaged = bytearray(raw)
        damaged[pos] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            model = fastlr.load(path)
        except ModelFileError:
            continue
        np.testing.assert_array_equal(model.predict_proba(X), good)


def _huge_mean(a):
    """Raw weights (1, -1, 0, ...) on column means of 1e308: the intercept
    the state gives is finite (``b - (1e308 - 1e308)``), but its tolerance,
    scaled by ``|w| . |mean|``, overflowed to inf and passed any intercept."""
    raw = np.zeros(a["scale"].shape[0])
    raw[:2] = 1.0, -1.0
    a["w"] = raw * a["scale"]
    a["coef"] = raw[None, :].astype(a["coef"].dtype)
    a["mean"] = np.where(raw != 0.0, 1e308, 0.0)


def set_param(name, value):
    return lambda meta: meta["params"].__setitem__(name, value)


@pytest.mark.parametrize("edit_meta, edit_arrays, words", [
    (lambda m: m.__setitem__("format_version", 4), None,
     "format version 4.*upgrade fastlr"),
    (lambda m: m.__setitem__("format", "pickle"), None, "'format' is 'pickle'"),
    (lambda m: m.pop("n_iter"), None, "'n_iter' is missing"),
    (set_param("lr", -1.0), None, "invalid parameter: lr must be > 0"),
    (set_param("penalty", "l3"), None, "invalid parameter: penalty must be"),
    (set_param("standardize", "yes"), None,
     "standardize must be True, False, 'scale' or 'auto'"),
    (set_param("evil", 1), None, r"unknown parameters \['evil'\]"),
    (lambda m: m.__setitem__("n_features_in", 4), None,
     r"'coef' has shape \(1, 3\), expected \(1, 4\)"),
    (lambda m: m.__setitem__("rng_state", {"bit_generator": "os.system"}), None,
     "unknown bit generator 'os.system'"),
    (None, lambda a: a.__setitem__("coef", a["coef"] * 1.01),
     "do not match the standardized weights"),
    # a mean so large that the intercept's tolerance overflowed to inf: it
    # loaded, with another intercept
    (None, lambda a: _huge_mean(a), "do not match the standardized weights"),
    (None, lambda a: a.__setitem__("classes", np.array(["a", "b", "c"])),
     r"'classes' has shape \(3,\)"),
    (None, lambda a: a.__setitem__("classes", np.array(["yes", "no"])),
     "two distinct labels in sorted order"),
    (None, lambda a: a.__setitem__("scale", -a["scale"]), "'scale' must be positive"),
    (None, lambda a: a.__setitem__("w", np.full(3, np.nan)), "'w' contains NaN"),
    (None, lambda a: a.__setitem__("mean", a["mean"].astype(np.float32)),
     "'mean' has dtype float32"),
    (None, lambda a: a.__setitem__("extra", np.ones(2)), r"unexpected arrays "
     r"\['extra'\]"),
    (None, lambda a: a.__setitem__("metadata", np.frombuffer(b"{not json",
                                                              dtype=np.uint8)),
     "metadata is not valid JSON"),
    (None, lambda a: a.__setitem__("metadata", np.frombuffer(
        b'{"format": NaN}', dtype=np.uint8)), "metadata is not valid JSON"),
    (None, lambda a: a["stats"].__setitem__(1, a["stats"][0] * 10.0 + 1.0),
     "column mean larger than the column's largest"),
    (set_param("class_weight", [[5, 1.0]]), None,
     "invalid parameter: class_weight names the label 5"),
    (None, lambda a: a.__setitem__("feature_names", np.array(["a", "a", "c"])),
     "'feature_names' holds 'a' more than once"),
    (lambda m: m.__setitem__("solver", "newton"), None,
     "'solver' must be one of"),
    (lambda m: m.__setitem__("n_solver_iter", 10**6), None,
     "'n_solver_iter' must be an integer from 0 to n_iter"),
    (lambda m: m.__setitem__("best_validation_score", "high"), None,
     "'best_validation_score' must be a number or null"),
    (lambda m: m.__setitem__("classes_object", "yes"), None,
     "'classes_object' must be true or false"),
    (None, lambda a: a.__setitem__("validation_scores", np.ones(1000)),
     r"'validation_scores' has shape \(1000,\), expected \(20,\)"),
], ids=["newer_format", "format_name", "missing_key", "bad_lr", "bad_penalty",
        "bad_bool", "unknown_param", "n_features", "rng", "edited_coef", "huge_mean",
        "three_classes", "unsorted_classes", "scale", "nan_w", "dtype",
        "extra_array", "bad_json", "json_nan", "stats_mean", "class_weight_label",
        "duplicate_names", "solver",
        "n_solver_iter", "best_score", "classes_object", "scores_shape"])
def test_hand_edited_files_are_rejected(tmp_path, model_file, edit_meta,
                                        edit_arrays, words):
    path = rewrite(model_file, tmp_path / "edited.npz", edit_meta, edit_arrays)
    with pytest.raises(ModelFileError, match=words) as exc:
        fastlr.load(path)
    assert str(exc.value).startswith(f"{path}: not a valid fastlr model file")


class _Boom:
    """Unpickling this would create a file: the test checks it never does."""

    path = None

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("name", ["gsq", "l1_u"])
def test_negative_optimizer_sums_are_rejected(tmp_path, data, name):
    """AdaGrad's sums of squared gradients and the accrued L1 penalty only
    grow from 0: a negative one is an edit, refused by name (it loaded, and
    the next partial_fit diverged or pushed the weights away)."""
    X, y = data
    path = tmp_path / "m.npz"
    fastlr.save(fitted(X, y, learning_rate="adagrad", penalty="l1"), path)
    edited = rewrite(path, tmp_path / "edited.npz", None,
                     lambda a: a.__setitem__(name, a[name] - 1.0))
    with pytest.raises(ModelFileError, match=f"'{name}' .* must be non-negative"):
        fastlr.load(edited)


def test_a_step_count_beyond_any_training_is_rejected(tmp_path, data):
    """A step count of 2**63 - 1 loaded, and one partial_fit wrapped it
    negative (a model that could not be saved again)."""
    X, y = data
    path = tmp_path / "m.npz"
    fastlr.save(fitted(X, y, average=True), path)
    edited = rewrite(path, tmp_path / "edited.npz", None,
                     lambda a: a.__setitem__("steps", np.full(2, 2**63 - 1)))
    with pytest.raises(ModelFileError, match="'steps' .* more steps than any"):
        fastlr.load(edited)


def test_more_averaged_iterates_than_steps_is_rejected(tmp_path, data):
    """Averaging counts the steps from its start (``steps[1] <=
    steps[0]``): a file with more averaged iterates than steps is an edit,
    refused by name (it loaded silently)."""
    X, y = data
    path = tmp_path / "m.npz"
    fastlr.save(fitted(X, y, average=True), path)
    edited = rewrite(path, tmp_path / "edited.npz", None,
                     lambda a: a.__setitem__("steps", a["steps"] * [1, 2]))
    with pytest.raises(ModelFileError, match="'steps' .* more averaged iterates"):
        fastlr.load(edited)


def test_pickled_payload_is_never_executed(tmp_path, model_file):
    sentinel = tmp_path / "pwned"
    _Boom.path = str(sentinel)
    payload = np.empty(1, dtype=object)
    payload[0] = _Boom()

    def inject(arrays):
        arrays["classes"] = payload

    path = tmp_path / "evil.npz"
    with np.load(model_file, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    inject(arrays)
    with zipfile.ZipFile(path, "w") as zf:
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, arr, allow_pickle=True)
    with pytest.raises(ModelFileError, match="'classes' holds Python objects"):
        fastlr.load(path)
    assert not sentinel.exists()


@pytest.mark.parametrize("average", [False, True], ids=["iterate", "averaged"])
def test_multiclass_round_trip(tmp_path, data, dtype, average):
    """A multinomial model saves and loads: (k, n) coef, identical predictions,
    and training continues exactly where it stopped."""
    X, _ = data
    X = X.astype(dtype)
    y = np.array(["x", "y", "z", "w"])[np.argmax(X[:, :2] @ [[1, -1, 0, 1],
                                                              [0, 1, -1, -1]],
                                                 axis=1)]
    clf = fitted(X, y, average=average, learning_rate="invscaling", lr=0.3)
    assert clf.coef_.shape == (4, 3)
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    np.testing.assert_array_equal(back.coef_, clf.coef_)
    np.testing.assert_array_equal(back.intercept_, clf.intercept_)
    assert back.coef_.dtype == dtype
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    a = copy.deepcopy(clf)
    a.partial_fit(X, y)
    back.partial_fit(X, y)
    np.testing.assert_array_equal(back.coef_, a.coef_)


def test_multiclass_file_with_binary_shaped_state_is_rejected(tmp_path, data):
    X, _ = data
    y = np.argmax(X[:, :2] @ [[1, -1, 0], [0, 1, -1]], axis=1)
    fastlr.save(fitted(X, y), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = dict(npz)
    for name, shape in (("gsq", (4,)), ("l1_u", (3,)), ("l1_q", (3, 4))):
        bad = dict(arrays, **{name: np.ones(shape)})
        np.savez(tmp_path / "bad.npz", **bad)
        with pytest.raises(ModelFileError, match=name):
            fastlr.load(tmp_path / "bad.npz")
    arrays["w"] = arrays["w"][:2]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="'w'"):
        fastlr.load(tmp_path / "bad.npz")


def test_labels_ending_in_nul_are_refused_by_save(tmp_path):
    """NumPy's text arrays drop trailing NULs: object labels 'a' and 'a\\x00'
    were saved as 'a' twice, a file load then refused. save refuses them
    and writes nothing."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = np.array(["a", "a\x00"], dtype=object)[(X[:, 0] > 0).astype(int)]
    clf = LogisticRegression(max_iter=2, tol=None, solver="sgd").fit(X, y)
    path = tmp_path / "m.npz"
    with pytest.raises(ValueError, match="ends with a NUL character"):
        fastlr.save(clf, path)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_feature_names_ending_in_nul_are_refused_by_save(tmp_path):
    """A column named 'b\x00' was saved as 'b', and the loaded model
    refused the DataFrame it was trained on; save refuses it, as it refuses
    such labels, and writes nothing. Other names round-trip."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "m.npz"
    clf = LogisticRegression(max_iter=2, tol=None, solver="sgd")
    clf.fit(pd.DataFrame(X, columns=["a", "b\x00"]), y)
    with pytest.raises(ValueError, match=r"feature_names_in_ .* a name ends with a NUL"):
        fastlr.save(clf, path)
    assert list(tmp_path.iterdir()) == []
    clf.fit(pd.DataFrame(X, columns=["a", "b\x01 c"]), y)
    fastlr.save(clf, path)
    assert fastlr.load(path).feature_names_in_.tolist() == ["a", "b\x01 c"]


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937,
                                           np.random.Philox, np.random.SFC64])
def test_a_model_shuffled_by_any_numpy_generator_saves_and_continues(tmp_path,
                                                                     bit_generator):
    """A model fitted with random_state=np.random.Generator(MT19937(0))
    (or SFC64, whose states hold arrays) could not be saved: TypeError,
    "Object of type ndarray is not JSON serializable". Saved and loaded,
    it continues with the same shuffles as the model it was."""
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = fastlr.LogisticRegression(solver="sgd", max_iter=3, tol=None,
                                    random_state=np.random.Generator(bit_generator(0)))
    clf.fit(X, y)
    fastlr.save(clf, tmp_path / "m.npz")
    back = fastlr.load(tmp_path / "m.npz")
    clf.partial_fit(X, y)
    back.partial_fit(X, y)
    np.testing.assert_array_equal(back.coef_, clf.coef_)


def test_a_float32_model_whose_weights_overflow_it_is_a_model_file_error(tmp_path):
    """A float32 model file whose intercept 'b' is -1e308 (finite in the
    file's float64) raised fit's ValueError about X out of load, not the
    ModelFileError naming the file that every defect of a file raises."""
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    clf = LogisticRegression(standardize=False, random_state=0)
    clf.fit(X, (X[:, 0] > 0).astype(int))
    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    fastlr.save(clf, good)
    with zipfile.ZipFile(good) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    out = __import__("io").BytesIO()
    np.lib.format.write_array(out, np.array([-1e308]))
    members["b.npy"] = out.getvalue()
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(persist.ModelFileError, match="bad.npz.*beyond float32's range"):
        fastlr.load(bad)


def test_a_model_past_2_53_steps_is_refused_for_what_it_is(tmp_path, data):
    """A model trained past 2**53 SGD steps cannot be saved (its file holds
    the count exactly); the refusal says so, not that its attributes were
    changed by hand (longevity audit)."""
    X, y = data
    clf = fitted(X, y)
    clf.training_state_.steps[0] = 2**53 + 7
    with pytest.raises(ValueError, match=r"taken 9007199254740999 SGD steps, more "
                                         r"than the 2\*\*53 a model file holds"):
        fastlr.save(clf, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_load_keeps_the_arrays_it_read_instead_of_copying_them(tmp_path):
    """The state is built from load's own buffers: a wide model is not held
    twice (the peak was 2.2 times the file, now about 1.6 under tracemalloc,
    which also counts the constructor's zeros that are never touched)."""
    import os
    import tracemalloc

    from scipy import sparse
    rng = np.random.default_rng(0)
    n, rows = 300_000, 300
    X = sparse.random(rows, n, density=20 / n, format="csr", random_state=0)
    clf = LogisticRegression(solver="sgd", learning_rate="adagrad", average=True,
                             standardize="scale", random_state=0)
    clf.partial_fit(X, rng.integers(0, 3, rows), classes=[0, 1, 2])
    path = tmp_path / "wide.npz"
    fastlr.save(clf, path)
    size = os.path.getsize(path)
    del clf
    tracemalloc.start()
    try:
        back = fastlr.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert back.training_state_.gsq.shape == (3, n + 1)
    assert peak < 1.8 * size, (peak / size)


def test_a_cv_estimator_or_a_subclass_is_refused_saying_what_to_do(tmp_path):
    """A subclass was saved as the base class (an overridden predict lost);
    the CV estimator's refusal said only its type."""
    X = np.random.default_rng(0).normal(size=(90, 2))
    y = (X[:, 0] > 0).astype(int)

    class Cautious(LogisticRegression):
        def predict(self, X):
            return (self.predict_proba(X)[:, 1] > 0.8).astype(int)

    with pytest.raises(TypeError, match=r"got the subclass Cautious: a model file "
                       r"holds no code.*pickle it instead"):
        fastlr.save(Cautious(max_iter=3, tol=None).fit(X, y), tmp_path / "s.npz")
    cv = fastlr.LogisticRegressionCV(alphas=2, cv=2, max_iter=3, tol=None).fit(X, y)
    with pytest.raises(TypeError, match=r"got LogisticRegressionCV: save a "
                       r"LogisticRegression.*alpha=cv.alpha_, l1_ratio=cv.l1_ratio_"):
        fastlr.save(cv, tmp_path / "cv.npz")
    assert not list(tmp_path.iterdir())
