"""Training on the kernel side, for every solver: the one place where
``solver`` is acted on (:func:`fastlr.train`, :func:`fastlr.train_multinomial`
and :class:`fastlr.LogisticRegression` all come through :func:`train_state`).

* ``"sgd"``: epochs of mini-batch SGD (:func:`fastlr._sgd.sgd`);
* ``"lbfgs"``: the deterministic finisher (:func:`fastlr._solver.finish`)
  from the state's model, each iteration one threaded full-data
  loss-and-gradient pass (:meth:`fastlr._dispatch.Data.loss_grad`);
* ``"auto"``: :data:`fastlr._solver.AUTO_EPOCHS` SGD epochs from a fresh
  model (a warm start skips them), in batches of at least
  :data:`fastlr._solver.AUTO_MIN_BATCH` rows, then the finisher.

:mod:`fastlr.reference` runs the same sequence in NumPy.
"""

import functools
import math

import numpy as np

from ._driver import (
    DivergedError,
    HeldCalls,
    standardization,
    standardize_advice,
)
from ._sgd import sgd
from ._solver import (
    AUTO_EPOCHS,
    AUTO_MIN_BATCH,
    CurvatureSample,
    class_totals,
    finish,
    lone_class,
    lone_class_intercepts,
    penalty_strengths,
    raw_centred,
    solver_coordinates,
    worse_than_zero,
)


def train_state(data, y, sw, state, *, solver, finish_tol, epochs, penalty, alpha,
                l1_ratio, fit_intercept, n_threads=None, callback=None,
                first_epoch=0, warm=False, row_fold=None, **sgd_options):
    """Train ``state`` in place with ``solver``.

    Parameters
    ----------
    data, y, sw, state
        As in :func:`fastlr._sgd.sgd`.
    solver : {"sgd", "lbfgs", "auto"}, validated
    finish_tol : float or None
        The finisher's relative tolerance (:func:`fastlr._solver.check_solver`).
    epochs : int
        The budget of passes: SGD epochs with ``"sgd"``; finisher
        iterations with ``"lbfgs"``; with ``"auto"``, SGD epochs plus
        finisher iterations.
    row_fold : (m,) int8 or None
        As in :func:`fastlr._sgd.sgd` (``train``'s ``rows``): the finisher
        gives the rows held out weight 0, so it minimizes the objective over
        the rows trained on.
    warm : bool
        The state holds a model to continue from (``warm_start``): ``"auto"``
        then goes straight to the finisher.
    sgd_options
        The rest of :func:`fastlr._sgd.sgd`'s keywords (``tol`` and
        ``n_iter_no_change`` apply to ``"sgd"`` only; the warm-up runs its
        epochs in full).

    Returns
    -------
    losses : (passes,) float64
        One loss per SGD epoch, then one per finisher iteration (the mean
        training loss at its iterate).
    converged : bool
        The stopping rule held before the budget ran out.
    solver_iterations : int
        Finisher iterations among the passes (0 for ``"sgd"``).
    """
    # held-out rows (``rows``) weigh 0 in the finisher's objective
    sw_f = sw if row_fold is None else np.where(
        row_fold == 0, sw if sw.shape[0] else 1.0, 0.0)

    def run_sgd(**kw):
        return sgd(data, y, sw, state, n_threads=n_threads, row_fold=row_fold, **kw)

    return run_solver(
        state,
        run_sgd,
        lambda center, W, B: data.loss_grad(y, sw_f, center, state.scale, W, B,
                                            state.softmax, n_threads),
        lambda: tuple(a[0] for a in data.column_stats(sw=sw_f)),
        float(sw_f.sum()) if sw_f.shape[0] else float(data.m),
        curvature=None if solver == "sgd" else CurvatureSample.of(data.X, y, sw_f),
        totals=None if solver == "sgd" else class_totals(y, sw_f, state.k),
        solver=solver,
        finish_tol=finish_tol, epochs=epochs, penalty=penalty,
        alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
        callback=callback, first_epoch=first_epoch, warm=warm, **sgd_options)


def run_solver(state, run_sgd, loss_grad, column_stats, denom, *, solver,
               finish_tol, epochs, penalty, alpha, l1_ratio, fit_intercept,
               callback=None, first_epoch=0, warm=False, curvature=None,
               totals=None, **sgd_options):
    """:func:`train_state` for any storage of the data: ``run_sgd(**kw)``
    runs SGD epochs on ``state`` (:func:`fastlr._sgd.sgd`'s keywords besides
    the data), ``loss_grad(center, W, B)`` is the summed loss and gradient
    over the data (:meth:`fastlr._dispatch.Data.loss_grad`),
    ``column_stats()`` the (weighted) column means and standard deviations
    (:func:`fastlr._solver.solver_coordinates`) and ``denom`` the sum of
    the weights. :mod:`fastlr.distributed` passes its blockwise versions.
    ``curvature`` is a :class:`fastlr._solver.CurvatureSample` of the
    training rows (or None): the finisher's first step along a new
    direction then needs one pass instead of two. ``totals``: each
    class's summed training weight (:func:`fastlr._solver.class_totals`),
    or None: where one class alone weighs anything
    (:func:`fastlr._solver.lone_class`) the solvers take
    :func:`fastlr._solver.lone_class_intercepts` without a pass (with an
    intercept), else the finisher keeps the classes' mean probabilities
    near their shares (its ``frequencies``)."""
    common = dict(penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
                  fit_intercept=fit_intercept)
    if solver == "sgd":
        losses, converged = run_sgd(epochs=epochs, callback=callback,
                                    first_epoch=first_epoch, **common, **sgd_options)
        return losses, converged, 0
    lone = None if totals is None else lone_class(totals)
    if lone is not None and fit_intercept:
        W, _ = state.model()
        state.set_model(np.zeros_like(W), lone_class_intercepts(
            lone, max(state.k, 2), state.softmax, finish_tol))
        return np.empty(0), True, 0
    warm_losses = np.empty(0)
    from_zero = False
    # the warm-up is reported once it is kept (HeldCalls)
    held = HeldCalls(callback)
    if solver == "auto" and not warm and epochs > 0:
        start = state.copy()
        W, B = state.model()
        from_zero = not (W.any() or B.any())
        sgd_options.update(tol=None, monitor=None,
                           batch_size=max(sgd_options["batch_size"],
                                          AUTO_MIN_BATCH))
        try:
            warm_losses, _ = run_sgd(epochs=min(AUTO_EPOCHS, epochs),
                                     callback=held, first_epoch=first_epoch,
                                     **common, **sgd_options)
        except DivergedError:
            # the warm-up is only a starting point: the finisher does not
            # depend on lr, so it starts from zero instead. The epoch (one:
            # AUTO_EPOCHS) read the data all the same: a pass of the budget,
            # its loss (finite: a model file holds it) the zero model's it
            # leaves, log 2 or log k
            state.restore(start)
            from_zero = False   # nothing more to drop
            warm_losses = np.array([math.log(max(state.k, 2))])
            held.drop()
            held(first_epoch + 1, warm_losses[0])
    center, mean_dir, bound, spread = solver_coordinates(
        state.mean, state.scale, fit_intercept,
        penalty_strengths(penalty, alpha, l1_ratio)[1], column_stats)
    shift = (center - state.mean) / state.scale
    evaluate = functools.partial(loss_grad, center)
    W0, B0, first = _start(state, shift, evaluate)
    if from_zero and warm_losses.shape[0] and \
            worse_than_zero(first[0][0] / denom, W0, penalty, alpha, l1_ratio):
        # a warm-up that ends worse than the model 0 it started from (a
        # huge uniform sample weight or lr that did not overflow: F 1e6 on
        # 120 rows) is dropped as a diverging one is; its pass and loss
        # count (n_iter_ and max_iter had left it out)
        state.restore(start)
        W0, B0, first = _start(state, shift, evaluate)
    held.release()
    done = warm_losses.shape[0]

    def evaluate_once(W, B):
        # the finisher's first point is the one just evaluated
        if first and np.array_equal(W, W0) and np.array_equal(B, B0):
            return first.pop()
        return evaluate(W, B)

    res = finish(
        evaluate_once,
        W0, B0, denom=denom,
        penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
        fit_intercept=fit_intercept, softmax=state.softmax, tol=finish_tol,
        max_iter=epochs - done, callback=callback,
        first_iteration=first_epoch + done,
        curvature=None if curvature is None else functools.partial(
            curvature.along, center, state.scale, softmax=state.softmax),
        mean_dir=mean_dir, bound=bound, spread=spread, frequencies=totals)
    with np.errstate(over="ignore", invalid="ignore"):
        B = res.B - res.W @ shift
        if state.softmax and fit_intercept:
            B = raw_centred(res.W, B, state.mean, state.scale)
    _check_finite(res.W, B, res.objective,
                  standardization(state.mean, state.scale))
    state.set_model(res.W, B)
    return np.concatenate([warm_losses, res.losses]), res.converged, res.n_iter


def _start(state, shift, evaluate):
    """The finisher's starting point in its coordinates (features centred
    by ``center``: ``B + W @ shift``) from ``state``'s model, and
    ``[evaluate(W0, B0)]``."""
    W0, B0 = state.model()
    with np.errstate(over="ignore", invalid="ignore"):
        B0 = B0 + W0 @ shift   # checked with the result
        return W0, B0, [evaluate(W0, B0)]


def finish_stack(data, y, sw, stack, *, tol, max_iter, penalty, alphas, l1_ratios,
                 fit_intercept, n_threads=None, callback=None, first_iteration=0,
                 warm_epochs=None):
    """The finisher for every model of a stack (the solvers of
    :class:`fastlr.LogisticRegressionCV`): each model of ``stack`` (a
    :class:`fastlr._state.ModelStack`, trained or fresh) is taken to the
    optimum of its objective over its training rows, in place, by its own
    L-BFGS run (:func:`fastlr._solver.finish`).

    The runs follow each regularization path (the models that share a fold
    and an l1_ratio), strongest alpha first, each model starting at the
    optimum of the one before it on its path (a warm start, as in
    scikit-learn's ``LogisticRegressionCV`` and glmnet); the first model of
    a path starts from its stack state (zero when its SGD diverged: the
    caller resets it). The paths go in lockstep: stage ``s`` runs the ``s``-th
    model of every path together, each round one pass over the data for
    the models still going (:meth:`fastlr._dispatch.Data.loss_grad_many`).
    A weakly penalized model is the slow one to reach from zero (on nearly
    separable data its weights keep growing), and the optimum of the next
    stronger alpha is close to it: on 40,000 x 50,000 CSR rows, 8 alphas,
    one fold, the path took 91 iterations in all where the models from
    their own SGD starts took 403.

    ``alphas``, ``l1_ratios`` (K,) the models' strengths; ``tol``, ``max_iter``
    as the finisher's (:func:`fastlr._solver.check_solver`), ``max_iter``
    for each model's run: an int, or (K,) ints (what is left of each
    model's budget after its own SGD epochs). ``warm_epochs`` (K,) ints or
    None: the SGD epochs a model ran from zero before (``solver="auto"``'s
    warm-up); a model whose warm-up ends with a mean loss above the zero
    model's (log 2, or log k) starts from zero instead, those epochs still
    counted in its budget (they read the data), as one model alone does
    (:func:`run_solver`). Its starting point's evaluation is the first
    iteration's, so the check costs no pass over the data.

    Returns
    -------
    losses : (most iterations, K) float64
        Each model's mean training loss after each of its iterations (NaN
        past its last).
    heldout : (K,) float64
        Each model's mean loss on the rows it holds out, at its optimum
        (NaN without held-out rows).
    n_iter : (K,) int
        Each model's iterations (from its warm start).
    converged : (K,) bool
    alone : (K,) bool
        The models whose training rows of positive weight hold one class
        (:func:`fastlr._solver.lone_class`): they take
        :func:`fastlr._solver.lone_class_intercepts`, no iteration, and their
        warm-up is not theirs (one model alone runs none).
    """
    K, k = stack.K, stack.k
    folds = stack.row_fold.shape[0] > 0
    ones = sw if sw.shape[0] else np.ones(data.m)
    denom = np.array([ones[stack.row_fold != f].sum() if folds else ones.sum()
                      for f in stack.fold])
    # each training set's (weighted) column means centre the features when
    # the standardization does not (solver_center), or give the direction of
    # the coordinates without an intercept (mean_direction): one pass for
    # all sets (one of the two asks for them)
    sets = [int(stack.fold[np.flatnonzero(stack.stat == r)[0]])
            for r in range(stack.mean.shape[0])]
    # the class of each fold's only training rows of positive weight, if one
    # (lone_class): its models take lone_class_intercepts without a run, as
    # one model alone does (run_solver)
    totals = {f: class_totals(y, np.where(stack.row_fold != f, ones, 0.0)
                              if folds else ones, k)
              for f in np.unique(stack.fold).tolist()}
    lone = {f: lone_class(t) for f, t in totals.items()} if fit_intercept else {}

    def column_stats():
        return data.column_stats(stack.row_fold if folds else None, sets,
                                 sw if sw.shape[0] else None)

    alphas = np.asarray(alphas, dtype=np.float64)
    l1_ratios = np.asarray(l1_ratios, dtype=np.float64)
    centers, mean_dirs, bounds, spreads = solver_coordinates(
        stack.mean, stack.scale, fit_intercept,
        penalty_strengths(penalty, alphas, l1_ratios)[1], column_stats)
    # (F, n): a (K, n) array per model is made only when used, (K, n) floats
    # held through the runs otherwise (on 1M columns and 30 models, 240 MB)
    shift = (centers - stack.mean) / stack.scale
    # the runs' weights: the stack's own, where its models are its iterates
    # (no averaging; a (K, k, n) array less)
    own = stack.owns and not stack.steps[:, 1].any() and stack.W.flags.c_contiguous
    W = stack.W if own else np.empty((K, k, data.n))
    B = np.empty((K, k))
    for i in range(K):
        W[i], B[i] = stack.state(i).model()
    with np.errstate(over="ignore", invalid="ignore"):
        B = B + np.einsum("kcn,kn->kc", W, shift[stack.stat])
    # each fold's curvature sample (the same rows, its held-out rows
    # weighing 0): the first trial step of every run along a new direction,
    # as one model alone takes it (a pass over X less at the start of each run)
    whole = CurvatureSample.of(data.X, y, sw)
    samples = {}

    def sample(f):
        if f not in samples:
            samples[f] = whole.held_out(stack.row_fold != f) if folds else whole
        return samples[f]

    stages, before = path_stages(alphas, l1_ratios, stack.fold)
    budget = np.broadcast_to(np.asarray(max_iter, dtype=np.int64), (K,)).copy()
    warm_n = np.zeros(K, dtype=np.int64) if warm_epochs is None else warm_epochs
    lone_models = np.zeros(K, dtype=bool)
    per_model = [np.empty(0)] * K
    n_iter = np.zeros(K, dtype=np.int64)
    converged = np.zeros(K, dtype=bool)
    objective = np.empty(K)
    done = first_iteration
    for ids in stages:
        warm = before[ids] >= 0
        W[ids[warm]] = W[before[ids[warm]]]
        B[ids[warm]] = B[before[ids[warm]]]
        alone = np.array([lone.get(int(stack.fold[i])) is not None for i in ids],
                         dtype=bool)
        for i in ids[alone]:
            W[i] = 0.0
            B[i] = lone_class_intercepts(lone[int(stack.fold[i])], max(k, 2),
                                         stack.softmax, tol)
        converged[ids[alone]] = True
        objective[ids[alone]] = 0.0   # (checked for finiteness alone)
        lone_models[ids[alone]] = True
        ids = ids[~alone]
        if not ids.shape[0]:
            continue
        models = (centers, stack.scale, stack.stat[ids], stack.hyper[ids],
                  stack.fold[ids], stack.row_fold)

        def evaluate(Ws, Bs, run, models=models):
            active = np.zeros(Ws.shape[0], dtype=np.uint8)
            active[run] = 1
            return data.loss_grad_many(y, sw, (*models, active), Ws, Bs,
                                       stack.softmax, n_threads)[:3]

        loss_grad = evaluate
        if (warm_n[ids] > 0).any():
            loss_grad, loss = _first_evaluation(evaluate, W[ids], B[ids])
            with np.errstate(invalid="ignore", divide="ignore"):
                worse = worse_than_zero(loss / denom[ids], W[ids], penalty,
                                        alphas[ids], l1_ratios[ids])
            worse &= warm_n[ids] > 0
            W[ids[worse]] = 0.0
            B[ids[worse]] = 0.0

        res = finish(loss_grad, W[ids], B[ids], denom=denom[ids], penalty=penalty,
                     alpha=alphas[ids], l1_ratio=l1_ratios[ids],
                     fit_intercept=fit_intercept, softmax=stack.softmax, tol=tol,
                     max_iter=budget[ids], callback=callback, first_iteration=done,
                     curvature=[functools.partial(
                         sample(int(stack.fold[i])).along, centers[stack.stat[i]],
                         stack.scale[stack.stat[i]], softmax=stack.softmax)
                         for i in ids],
                     mean_dir=None if mean_dirs is None else mean_dirs[stack.stat[ids]],
                     bound=None if bounds is None else bounds[stack.stat[ids]],
                     spread=None if spreads is None else spreads[stack.stat[ids]],
                     frequencies=np.array([totals[int(stack.fold[i])] for i in ids]))
        W[ids], B[ids] = res.W, res.B
        n_iter[ids], converged[ids], objective[ids] = \
            res.n_iter, res.converged, res.objective
        for t, i in enumerate(ids):
            per_model[i] = res.losses[:res.n_iter[t], t]
        done += res.losses.shape[0]
    losses = np.full((n_iter.max(initial=0), K), np.nan)
    for i in range(K):
        losses[:n_iter[i], i] = per_model[i]
    # the held-out losses at the optima: one pass for every model, without
    # the gradient's arrays (gradient=False: the same sums)
    held = data.loss_grad_many(
        y, sw, (centers, stack.scale, stack.stat, stack.hyper, stack.fold,
                stack.row_fold, np.ones(K, dtype=np.uint8)),
        W, B, stack.softmax, n_threads, gradient=False)[3]
    with np.errstate(over="ignore", invalid="ignore"):
        B = B - np.einsum("kcn,kn->kc", W, shift[stack.stat])
        if stack.softmax and fit_intercept:
            B = raw_centred(W, B, stack.mean[stack.stat], stack.scale[stack.stat])
    _check_finite(W, B, objective, standardization(stack.mean, stack.scale))
    for i in range(K):
        stack.state(i).set_model(W[i], B[i])
    with np.errstate(invalid="ignore", divide="ignore"):
        heldout = np.where(held[:, 1] > 0, held[:, 0] / held[:, 1], np.nan)
    return losses, heldout, n_iter, converged, lone_models


def _first_evaluation(evaluate, W, B):
    """Evaluate every model of a stage at its start (``W``, ``B``) once:
    ``(loss_grad, loss)``: ``loss`` their loss sums there, ``loss_grad`` the stage's
    ``evaluate`` that answers its first call from that evaluation for the
    models asked for at exactly those points (the finisher's first point;
    the others, a model moved to zero say, are evaluated then)."""
    everyone = np.arange(W.shape[0])
    kept = [W.copy(), B.copy(), *evaluate(W, B, everyone)]
    first = [True]

    def loss_grad(Ws, Bs, run):
        if not first[0]:
            return evaluate(Ws, Bs, run)
        first[0] = False
        W0, B0, loss, G, S = kept
        same = [t for t in run
                if np.array_equal(Ws[t], W0[t]) and np.array_equal(Bs[t], B0[t])]
        other = [t for t in run if t not in same]
        loss, G, S = np.array(loss, dtype=np.float64), np.array(G), np.array(S)
        if other:
            l2, G2, S2 = evaluate(Ws, Bs, other)
            loss[other], G[other], S[other] = np.asarray(l2)[other], G2[other], S2[other]
        return loss, G, S

    return loss_grad, np.asarray(kept[2], dtype=np.float64)


def path_stages(alphas, l1_ratios, fold):
    """The stages of :func:`finish_stack`'s warm-started paths:
    ``(stages, before)``, ``stages[s]`` the indices of every path's
    ``s``-th model (a path: the models of one fold and l1_ratio, strongest
    alpha first; equal alphas in index order), ``before[i]`` the model
    ``i`` starts from (the one before it on its path), -1 for a path's
    first."""
    K = len(alphas)
    order = sorted(range(K), key=lambda i: (fold[i], l1_ratios[i], -alphas[i], i))
    before = np.full(K, -1, dtype=np.int64)
    depth = np.zeros(K, dtype=np.int64)
    for a, b in zip(order, order[1:], strict=False):
        if fold[a] == fold[b] and l1_ratios[a] == l1_ratios[b]:
            before[b] = a
            depth[b] = depth[a] + 1
    return [np.flatnonzero(depth == s) for s in range(depth.max() + 1)], before


def _check_finite(W, B, objective, how):
    """Refuse a finisher's result (weights ``W``, intercepts ``B`` in the
    caller's space, ``objective``) that is not finite: features
    beyond the float64 range (values near 1e300) make the model itself
    unrepresentable. ``how``: the model's
    :func:`fastlr._driver.standardization`."""
    if not (np.isfinite(W).all() and np.isfinite(B).all()
            and np.isfinite(objective).all()):
        advice = standardize_advice(how)
        raise DivergedError(
            "the solver's model is not finite (the loss or its gradient "
            "overflowed float64: the features are too large); "
            + ("divide them by a large constant (sums of rows near float64's "
               "limit overflow even when standardized)" if advice is None
               else advice))
