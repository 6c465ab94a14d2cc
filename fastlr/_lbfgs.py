"""Limited-memory BFGS, with the orthant-wise variant for an L1 term.

The optimizer of the deterministic finisher (:mod:`fastlr._solver`), plain
NumPy and generic over the objective: it calls ``fun(x) -> (f, g)`` for the
smooth part and adds ``l1 * sum |x[mask]|`` itself. Both the kernels' side
and :mod:`fastlr.reference` run this same control flow, each with its own
``fun``, as they share the SGD epoch loop of :mod:`fastlr._driver`.

Method
------
L-BFGS (Liu and Nocedal 1989, "On the limited memory BFGS method for large
scale optimization"): the search direction is ``-H g``, with ``H`` the
inverse-Hessian approximation of the last ``memory`` pairs ``s = x' - x``,
``y = g' - g``, applied by the two-loop recursion (Nocedal and Wright,
"Numerical Optimization", 2nd ed., Algorithm 7.4) and scaled by
``s.y / y.y`` of the newest pair (their eq. 7.20). The step is found by
backtracking from 1 with safeguarded quadratic interpolation until the
Armijo condition holds (``c1 = 1e-4``). The objectives here (logistic
losses plus a convex penalty) are convex, so ``s.y >= 0`` for any step and
the Wolfe curvature condition is not needed to keep ``H`` positive
definite; a pair with ``s.y`` too small to trust is skipped.

A caller that knows a bound on the curvature along each coordinate passes
its inverse as a diagonal preconditioner (``diag``): the recursion then
starts from ``gamma diag(diag)`` instead of ``gamma I``, with ``gamma`` the
same scaling measured in that metric (diagonally preconditioned L-BFGS,
Nocedal and Wright section 7.2), and lengths of the gradient in the
stopping tests are measured in it too.

With an L1 term the method is OWL-QN (Andrew and Gao 2007, "Scalable
training of L1-regularized log-linear models"): the gradient is replaced by
the pseudo-gradient of ``f + l1 |x|_1``, the direction is zeroed where it
disagrees in sign with the negative pseudo-gradient (only for the weights
at zero while the steps go well: see :func:`_constrain`), and each trial
point is projected onto the orthant of the current point (a coordinate that
would cross zero is set to zero), which is how weights become exactly zero.
Without an L1 term every one of these steps is the identity, and the method
is plain L-BFGS.

Every accepted step lowers the objective (Armijo), so the current iterate
is always the best one seen; a trial point where the objective is not
finite is treated as too long a step.
"""

import math
from typing import NamedTuple

import numpy as np

#: Correction pairs kept (scipy's L-BFGS-B default).
MEMORY = 10

#: Sufficient-decrease constant of the Armijo condition.
ARMIJO = 1e-4

#: Trial steps per line search before giving up on the direction.
MAX_BACKTRACKS = 40

#: A pair with ``s.y <= CURVATURE_EPS * y.y`` carries no usable curvature
#: (L-BFGS-B's test, with machine epsilon as there). ``s.y / y.y`` is the
#: inverse of the curvature along ``s``: a larger bound drops every pair
#: along a direction 1e10 times stiffer than the flattest, and on a column
#: scaled by 1e8 without standardization (curvature ratio ~1e16) the run
#: never kept a pair and stalled near the zero model (F 0.691 against an
#: optimum of 0.420, with 1e-10).
CURVATURE_EPS = float(np.finfo(np.float64).eps)

#: Denominator floor of the relative decrease (objective values are >= 0).
TINY = 1e-300

#: Relative changes of the objective this small are rounding: a sum of m
#: row losses is known to a few units of 1e-16 at best.
NOISE = 16 * np.finfo(np.float64).eps

#: A line search that finds no decrease where the gradient predicts one of
#: more than this fraction of F (or of ``tol`` F, if larger) is a failure,
#: not convergence: floating point cannot evaluate F along that direction
#: (features near 1e80 without standardization overflowed every trial
#: point, and the zero model was returned as converged). At a true optimum
#: the predicted decrease is F's rounding, 1e-16 to 1e-12 of it.
FAILED_DECREASE = 1e-8

#: Iterations in a row without a measurable change of the objective (since
#: it last changed measurably, not only over each iteration: many changes
#: below NOISE add up to a measurable one) after which the gradient must
#: have halved, or the run is at the limit of floating point (the gradient
#: is then rounding noise too) and stops. Below F's rounding L-BFGS can take
#: 20 iterations to halve the gradient (five classes on 622 x 18, two
#: columns collinear to 1e-6): with 10, such runs stopped at a gradient of
#: 2e-10, 1e7 times its rounding and 5e-8 from the optimum; with 30 they
#: reach it to 1e-14, and a run at the limit costs 20 more passes.
STALL = 30

#: Iterations in a row the ``tol`` test must hold before the run stops. In
#: a nearly flat valley (L1 on standardized columns, five of them near-copies
#: of five others: along the move of weight from a column to its copy the
#: penalty is flat and the loss curves by about 1e-6) the decreases first
#: fall below ``tol`` while the curvature pairs know nothing of that
#: direction, and then grow again as the pairs find it: one iteration later
#: the model's predicted decrease exceeded ``tol``. Stopping at the first
#: iteration the test held, ``tol=1e-8`` returned the ``tol=1e-4`` model,
#: 1.6e-4 above the optimum (relatively); one more iteration costs a pass.
SETTLE = 2

#: An iteration whose predicted decrease (the quasi-Newton model's) grew
#: more than RISE times over the last one, to within RISE_NEAR of ``tol``
#: ``F``, does not count toward SETTLE: the curvature pairs are finding a
#: direction along which the gradient still promises a decrease, as in
#: SETTLE's valley. A softmax model without an intercept on uncentred
#: features with two collinear columns (5,000 x 20, mean 10, three
#: classes) stopped at the default ``tol`` with predicted decreases of
#: 1.1e-5 then 2.6e-5 of ``F`` (growing to 1.6e-4 over the next two
#: iterations), 1.1e-3 above the optimum (probabilities 0.09 off); it now
#: goes on, 26 passes instead of 18, to 2.8e-6. Near the optimum the
#: predictions shrink from one iteration to the next, and the runs that
#: were measured took the passes they took.
RISE = 2.0
RISE_NEAR = 0.1


class Result(NamedTuple):
    """What :func:`minimize` returns.

    Attributes
    ----------
    x : ndarray
        The last (and best) iterate.
    f : float
        Its objective, the L1 term included.
    n_iter : int
        Iterations run (each accepted step is one).
    converged : bool
        True when the stopping rule held (or no decrease was possible in
        floating point); False when ``max_iter`` ran out first.
    """

    x: np.ndarray
    f: float
    n_iter: int
    converged: bool


def pseudo_gradient(x, g, l1):
    """The minimum-norm subgradient of ``f + sum_j l1_j |x_j|`` (Andrew and
    Gao's pseudo-gradient), ``l1`` per coordinate (0 where there is no L1
    term) or the scalar 0: ``g + l1 sign(x)`` off zero; at zero, the
    one-sided derivative that points downhill, or 0 if neither does."""
    if np.ndim(l1) == 0:
        return g
    right = g + l1        # derivative moving up from 0
    left = g - l1         # derivative moving down from 0
    at_zero = np.where(right < 0.0, right, np.where(left > 0.0, left, 0.0))
    return np.where(x > 0.0, right, np.where(x < 0.0, left, at_zero))


def _direction(pg, pairs, diag=None):
    """``-H pg`` by the two-loop recursion over ``pairs`` (oldest first),
    from the initial matrix ``H0 = gamma I``, or ``gamma diag(diag)`` with
    a preconditioner ``diag`` ((d,) > 0; ``gamma = s.y / (y . diag y)`` of
    the newest pair, the scaling of eq. 7.20 in the metric of ``diag``,
    and 1 without pairs: ``-diag pg``).

    The updates are BLAS axpy in place: with a million weights the
    recursion reads 2 * MEMORY vectors twice, and NumPy's ``q -= a * y``
    would write a temporary for each. (Imported here: scipy.linalg costs
    a new process a quarter of a second that prediction does not need.)
    """
    from scipy.linalg.blas import daxpy

    q = -pg
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(np.dot(s, q))
        alphas.append(a)
        q = daxpy(y, q, a=-a)
    if diag is not None:
        if pairs:
            s, y, rho = pairs[-1]
            q *= diag * (1.0 / (rho * float(np.dot(y, diag * y))))
        else:
            q *= diag
    elif pairs:
        s, y, rho = pairs[-1]
        q *= 1.0 / (rho * float(np.dot(y, y)))   # gamma = s.y / y.y
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        b = rho * float(np.dot(y, q))
        q = daxpy(s, q, a=a - b)
    return q


def minimize(fun, x0, *, tol, max_iter, l1=0.0, mask=None, memory=MEMORY,
             callback=None, first_step=None, floor=None, diag=None, enough=None):
    """Minimize ``fun(x)[0] + l1 * sum |x[mask]|`` from ``x0``: the run of
    :func:`iterate`, each trial point evaluated by ``fun``.

    Parameters
    ----------
    fun : callable(x) -> (float, ndarray)
        The smooth part of the objective and its gradient (float64, shape of
        ``x``). Called once per trial point.
    x0 : (d,) float64
    tol : float >= 0
        Stop when, for SETTLE iterations in a row, the relative decrease
        of the objective over the last iteration, ``(F_prev - F) /
        F_prev``, the decrease the quasi-Newton model predicts for the next
        step, ``-pg . d / 2``, and that of a Newton step along the
        flattest pair the run has seen (:func:`_flat_gain`), both relative
        to ``F``, are all at most ``tol`` (the second keeps a short step
        taken far from the optimum from stopping the run; the third and
        the repetition, one along a direction of tiny curvature), and the
        predicted decrease did not more than double toward ``tol`` (RISE:
        the pairs finding a direction the gradient still promises more
        along). A
        change of ``F`` within its rounding (NOISE) counts as 0, while the
        predicted decrease comes from the gradient and stays meaningful far
        below it: ``tol`` below 1e-16 asks for coefficients converged to
        about ``sqrt(tol / curvature)``. Whatever ``tol``, the run also
        stops (converged) at the limit of floating point: no step decreases
        ``F``, or ``F`` has not changed measurably for STALL iterations
        while the gradient did not halve.
    max_iter : int >= 0
    l1 : float >= 0 or (d,) array of them
        The L1 strength, one for all coordinates or one per coordinate (a
        joint run of several models, each with its own).
    mask : (d,) bool or None
        The coordinates the L1 term applies to (None: all).
    memory : int
        Correction pairs kept.
    callback : callable(iteration, x, F) or None
        Called after each accepted step (``iteration`` counts from 1).
    first_step : callable(x, d, slope) -> float or None, or None
        The first trial step along a direction without curvature pairs (the
        first iteration, or after the memory was cleared): the minimizer of
        the objective's quadratic model along ``d`` (``slope = pg . d``)
        when the caller can estimate the curvature there, or None. Without
        it (or when it returns None or a step that is not finite and
        positive) the first trial is ``min(1, 1 / |pg|)``.
    floor : callable(g) -> float, or None
        A decrease of ``F`` that some step is sure to reach from a point of
        gradient ``g`` (from a bound on the curvature along some
        coordinates), or ``inf`` where the caller's own test of ``g`` says
        the point is not done: the run does not stop on ``tol`` while it
        exceeds ``tol F``. The quasi-Newton model's prediction can miss it when
        the curvature differs by orders of magnitude between coordinates
        (a strong penalty on the weights, none on the intercept: scaled by
        the weights' curvature, the model predicted the intercept's long
        way down to be 1e-6 of ``F`` and the run stopped at an intercept
        near 0, far from the prior's logit).
    diag : (d,) float64 > 0, or None
        A diagonal preconditioner: the inverse of a bound on the
        objective's curvature along each coordinate, up to a common factor.
        The quasi-Newton matrix starts from it instead of the identity
        (:func:`_direction`), and a direction without curvature pairs is
        ``-diag pg``, first tried at step 1 (or ``first_step``'s). On
        coordinates whose curvatures are orders of magnitude apart
        (features on raw scales) the identity's model predicts next to no
        decrease along the flat coordinates, and the run stopped on ``tol``
        far from the optimum.
    enough : float or None
        An objective at or below which the run stops, converged, before
        its next iteration: for an objective that may have no minimizer
        but an infimum (the unpenalized logistic loss on separable
        classes tends to 0 as the weights grow, and its relative decrease
        never falls below ``tol``), a point within ``enough`` of it.

    Returns
    -------
    Result
    """
    run = iterate(x0, tol=tol, max_iter=max_iter, l1=l1, mask=mask, memory=memory,
                  callback=callback, first_step=first_step, floor=floor, diag=diag,
                  enough=enough)
    try:
        x = next(run)
        while True:
            x = run.send(fun(x))
    except StopIteration as done:
        return done.value


def minimize_many(fun, x0s, *, tol, max_iter, l1s, memory=MEMORY, callbacks=None,
                  floor=None, diags=None, first_steps=None, enough=None):
    """Minimize K objectives at once, each by its own run of :func:`iterate`
    (its own curvature pairs, line search and stopping rule, exactly the
    run :func:`minimize` would make), in lockstep: each round, every run
    that has not stopped asks for one trial point, and ``fun`` evaluates
    them together (one pass over the data for all of them).

    Parameters
    ----------
    fun : callable(ids, xs) -> list of (float, ndarray)
        The smooth parts and gradients of the objectives ``ids`` (a list of
        indices into ``x0s``) at the points ``xs``.
    x0s : list of (d,) float64
    tol, memory
        As in :func:`minimize`, for each run.
    floor : callable, or a list of one callable (or None) per run
        Each run's ``floor`` (:func:`minimize`).
    max_iter : int, or a sequence of one int per run
        Each run's budget of iterations.
    l1s : list of float or (d,) arrays
        Each run's ``l1``.
    callbacks : list of callables or None
        Each run's ``callback``.
    diags : list of (d,) arrays or None (each may be None)
        Each run's ``diag``.
    first_steps : list of callables or None (each may be None)
        Each run's ``first_step``.
    enough : list of floats or None (each may be None)
        Each run's ``enough`` (:func:`minimize`).

    Returns
    -------
    list of Result
    """
    budgets = np.broadcast_to(np.asarray(max_iter, dtype=np.int64), (len(x0s),))
    floors = floor if isinstance(floor, list) else [floor] * len(x0s)
    runs = [iterate(x0, tol=tol, max_iter=int(budgets[i]), l1=l1, memory=memory,
                    callback=None if callbacks is None else callbacks[i],
                    floor=floors[i],
                    diag=None if diags is None else diags[i],
                    first_step=None if first_steps is None else first_steps[i],
                    enough=None if enough is None else enough[i])
            for i, (x0, l1) in enumerate(zip(x0s, l1s, strict=True))]
    results = [None] * len(runs)
    asked = {i: next(run) for i, run in enumerate(runs)}
    while asked:
        ids = list(asked)
        for i, out in zip(ids, fun(ids, [asked[i] for i in ids]), strict=True):
            try:
                asked[i] = runs[i].send(out)
            except StopIteration as done:
                results[i] = done.value
                del asked[i]
    return results


def _norm(v):
    """The Euclidean length of a nonzero v without underflow: the gradient
    of a model with a huge margin on separable data (entries about 1e-170)
    squares to 0, and the first step 1 / |g| divided by zero."""
    top = float(np.abs(v).max())
    return top * math.sqrt(float(np.dot(v / top, v / top)))


def iterate(x0, *, tol, max_iter, l1=0.0, mask=None, memory=MEMORY, callback=None,
            first_step=None, floor=None, diag=None, enough=None):
    """The L-BFGS / OWL-QN run of :func:`minimize` as a generator: it yields
    each trial point ``x`` and is sent ``fun(x)`` back; its return value
    (``StopIteration.value``) is the :class:`Result`. The arithmetic is
    all here, whoever evaluates the points (:func:`minimize` one objective,
    :func:`minimize_many` several in lockstep)."""
    x = np.array(x0, dtype=np.float64)
    # the L1 strength of each coordinate, or the scalar 0 without an L1 term
    l1 = np.broadcast_to(np.asarray(l1, dtype=np.float64), x.shape)
    if mask is not None:
        l1 = np.where(mask, l1, 0.0)
    l1 = np.array(l1) if l1.any() else 0.0

    def objective(z):
        f, g = yield z
        return f + (float(l1 @ np.abs(z)) if np.ndim(l1) else 0.0), f, g

    F, _, g = yield from objective(x)
    pairs = []
    decrease = math.inf   # relative decrease of the last iteration
    stalled = []          # |pg| at each iteration since F last changed measurably
    level = F             # F when it last changed measurably
    held = False          # every sign held for the next step (see _constrain)
    strict = False        # every sign held for the rest of the run (a stall)
    quiet = 0             # iterations in a row the tol test held (SETTLE)
    flat = None           # the flattest pair seen, (s, s.y) (_flat_gain)
    last_predicted = math.inf   # the quasi-Newton model's last predicted decrease
    flat_curvature = math.inf
    for it in range(max_iter):
        pg = pseudo_gradient(x, g, l1)
        if not pg.any() or (enough is not None and F <= enough):
            return Result(x, F, it, True)
        d = _direction(pg, pairs, diag)
        if np.ndim(l1):
            _constrain(d, x, pg, l1, held or strict)
        slope = float(np.dot(pg, d))
        if not slope < 0.0:          # no descent left in H: steepest descent
            pairs.clear()
            d = _direction(pg, pairs, diag)
            slope = float(np.dot(pg, d))
        # where the unit step would take a weight across zero
        crossing = (l1 > 0.0) & (x != 0.0) & (np.sign(x + d) != np.sign(x)) \
            if np.ndim(l1) else None
        predicted = -0.5 * slope
        if it > 0 and decrease <= tol and predicted <= tol * max(F, TINY) \
                and _flat_gain(pg, flat) <= tol * max(F, TINY) \
                and (floor is None or floor(pg) <= tol * max(F, TINY)) \
                and not _rising(predicted, last_predicted, tol * max(F, TINY)):
            quiet += 1
            if quiet >= SETTLE:
                return Result(x, F, it, True)
        else:
            quiet = 0
        last_predicted = predicted
        if decrease == 0.0 and level - F <= NOISE * max(level, TINY):
            stalled.append(float(np.dot(pg, pg)))
            if len(stalled) > STALL and min(stalled[-STALL:]) > 0.25 * min(
                    stalled[:-STALL]):
                if np.ndim(l1) and not strict and \
                        _promised(pg, diag) > max(tol, NOISE) * max(F, TINY):
                    # the free weights' quasi-Newton steps may be what no
                    # longer lowers F measurably (badly scaled columns) while
                    # the gradient promises more than F's rounding (or tol):
                    # go on holding every sign, as Andrew and Gao do
                    strict = True
                    stalled.clear()
                    continue
                # rounding is all that is left: converged if the gradient
                # agrees (an unpenalized intercept far from its optimum under
                # a penalty of 1e15 stalled here with F 7e-5 above its optimum)
                return Result(x, F, it, _settled(pg, F, tol, diag))
        else:
            stalled.clear()
            level = F
        step = 1.0
        if not pairs:
            guess = first_step(x, d, slope) if first_step is not None else None
            step = guess if guess is not None and 0.0 < guess < math.inf else (
                1.0 if diag is not None else min(1.0, 1.0 / _norm(pg)))
        found = yield from _line_search(objective, x, F, pg, d, step, l1,
                                        extrapolate=not pairs)
        if found is None:
            if pairs:
                pairs.clear()        # forget the curvature and retry downhill
                found = yield from _line_search(
                    objective, x, F, pg, _direction(pg, pairs, diag),
                    1.0 if diag is not None else 1.0 / max(_norm(pg), 1.0), l1)
            if found is None:
                # no decrease along the steepest direction either: the
                # objective is as low as floating point can tell, unless the
                # gradient promises a real one
                return Result(x, F, it, _settled(pg, F, tol, diag))
        x_new, F_new, g_new = found
        if crossing is not None:
            # the unit step would have taken a weight across zero, and the
            # step taken stopped short of it: hold every sign for a step
            held = bool(crossing.any()) and not (x_new[crossing] == 0.0).any()
        s = x_new - x
        yv = g_new - g
        if np.ndim(l1):
            # a weight held at zero by the L1 term moved by 0 while its
            # gradient changed: that is no curvature of the free weights,
            # and left in y it would shrink the scale s.y / y.y of every step
            yv[(l1 > 0.0) & (x == 0.0) & (x_new == 0.0)] = 0.0
        sy = float(np.dot(s, yv))
        yy = float(np.dot(yv, yv))
        # (preconditioned, the scale divides by y . diag y, which can
        # underflow where y . y does not: weights running off on separable
        # data)
        if sy > CURVATURE_EPS * yy and yy > 0.0 and (
                diag is None or float(np.dot(yv, diag * yv)) > 0.0):
            pairs.append((s, yv, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
            curvature = sy / float(np.dot(s, s if diag is None else s / diag))
            if curvature < flat_curvature:
                flat, flat_curvature = (s, sy), curvature
        decrease = (F - F_new) / max(F, TINY)
        if abs(decrease) <= NOISE:
            decrease = 0.0     # below the rounding of F: no measurable change
        x, F, g = x_new, F_new, g_new
        if callback is not None:
            callback(it + 1, x, F)
    pg = pseudo_gradient(x, g, l1)
    return Result(x, F, max_iter, not pg.any())


def _constrain(d, x, pg, l1, every):
    """Zero the coordinates of the direction ``d`` (in place) that OWL-QN
    does not let move.

    A weight at zero under the L1 term moves only into the orthant of
    ``-pg``. The others keep the quasi-Newton direction, unless ``every``:
    then every coordinate that disagrees in sign with ``-pg`` is zeroed, as
    Andrew and Gao do at every step. :func:`iterate` asks for that after a
    step that stopped short of a zero its unit step would have crossed, and
    for the rest of a run once the objective stops changing measurably.

    Their rule at every step throws away the curvature of the free weights:
    an elastic net on 200 x 5 took 600 passes and stopped 1e-5 from the
    optimum (22 passes and 1e-10 with this). Constraining only the weights
    at zero, on the other hand, lets a weight move uphill on its own
    coordinate to follow a partner whose step the line search's projection
    cuts at zero: on nearly collinear columns the steps then stopped ever
    shorter of that zero (tenfold an iteration) and the run stalled 1e-3
    from the optimum; and on columns scaled from 1e-4 to 1e4 without
    standardization the free steps stopped lowering the objective
    measurably 2e-5 in the pseudo-gradient from it, where Andrew and Gao's
    steps reach it."""
    pen = l1 > 0.0
    held = d * pg >= 0.0
    if not every:
        held &= pen & (x == 0.0)
    d[held] = 0.0


def _rising(predicted, last, bound):
    """Whether the quasi-Newton model's predicted decrease ``predicted``
    grew past RISE times the ``last`` one while within RISE_NEAR of the
    ``bound`` of the ``tol`` test."""
    return predicted > RISE * last and predicted > RISE_NEAR * bound


def _flat_gain(pg, flat):
    """The decrease of a Newton step from a point of pseudo-gradient ``pg``
    along the flattest pair ``flat = (s, s.y)`` the run has seen (lowest
    curvature ``s.y`` per squared length of ``s``, lengths measured in the
    metric of the preconditioner), ``(pg . s)^2 / (2 s.y)``, or 0 before
    any pair: exact on a quadratic. The quasi-Newton model knows the
    curvature along its last ``memory`` steps only; along a direction whose
    curvature is 1e-6 of the others it predicts next to nothing once that
    direction's pair has left the memory, though the gain along it is the
    gradient's component there squared over that curvature (nearly
    separable 10 classes, ``alpha=1e-9``: ``tol=1e-6`` stopped 1.2e-3
    above the optimum, relatively, and now 1.7e-5; ``tol=1e-8`` 1.4e-6,
    now 1.2e-7)."""
    if flat is None:
        return 0.0
    s, sy = flat
    return 0.5 * float(np.dot(pg, s)) ** 2 / sy


def _settled(pg, F, tol, diag=None):
    """Whether a run that can no longer lower ``F`` measurably has
    converged: unless the pseudo-gradient ``pg`` promises a real decrease
    (FAILED_DECREASE, or ``tol``, of ``F``): half the first-order decrease
    of a steepest-descent step of length ``1 / max(|pg|, 1)``, ``|pg|^2 /
    max(|pg|, 1)``, lengths measured in the metric of the preconditioner
    ``diag`` when there is one (``|pg|^2 = pg . diag pg``: on features near
    1e80 the plain length of the gradient at the optimum is its rounding
    times 1e80). A gradient that is not finite (sums that overflowed
    float64) promises nothing either: not converged."""
    return bool(_promised(pg, diag) <= max(tol, FAILED_DECREASE) * max(F, TINY))


def _promised(pg, diag=None):
    """The decrease the pseudo-gradient ``pg`` promises (see
    :func:`_settled`)."""
    gg = float(np.dot(pg, pg if diag is None else diag * pg))
    return 0.5 * gg / max(math.sqrt(gg), 1.0)


def _project(x_new, x, pg, l1):
    """OWL-QN's orthant projection: coordinates of ``x_new`` (with an L1
    term) that left the orthant of ``x`` (of ``-pg`` where ``x`` is 0)
    become 0."""
    if np.ndim(l1) == 0:
        return x_new
    orth = np.where(x != 0.0, np.sign(x), -np.sign(pg))
    out = x_new.copy()
    crossed = (l1 > 0.0) & (np.sign(x_new) != orth)
    out[crossed] = 0.0
    return out


def _line_search(objective, x, F, pg, d, step, l1, extrapolate=False):
    """Backtracking from ``step`` until the Armijo condition holds:
    ``(x_new, F_new, g_new)``, or None if MAX_BACKTRACKS trials fail (a
    generator, as :func:`iterate`: ``objective`` yields its trial points).

    ``extrapolate`` (a direction without curvature information: the first
    iteration, or after the memory was cleared): when the first trial
    already satisfies Armijo, the minimizer of the quadratic through ``F``,
    the slope and ``F_new`` is tried too if it is more than twice as far,
    and kept if it is lower. On standardized features the gradient step of
    length 1 is about a quarter of the Newton step; this one extra pass
    makes the first iteration nearly a Newton step along the gradient. (A
    caller that estimates the curvature along ``d``, ``first_step`` of
    :func:`minimize`, starts at that step and saves the pass: the quadratic
    minimizer is then within a factor 2 and not tried.)

    Near the optimum the decrease of ``F`` drowns in its rounding while the
    gradient, a sum of terms that vanish there, is still accurate: a trial
    whose change of ``F`` is within NOISE is accepted when the directional
    derivative at it, ``pg_new . (x_new - x)``, is at most ``(2 ARMIJO -
    1)`` times the one at ``x`` (Hager and Zhang's "approximate Wolfe"
    condition, 2005, "A new conjugate gradient method with guaranteed
    descent and an efficient line search": on a quadratic, exactly the
    Armijo condition, evaluated from gradients instead of ``F``), or when it
    shrinks the pseudo-gradient (the rule of scikit-learn's Newton
    solvers). That is what lets the coefficients converge beyond
    ``sqrt(eps)``. With the second rule alone, a quasi-Newton step along a
    flat direction (two nearly collinear columns, curvature 338 times below
    the largest), which lowers ``F`` but lengthens the gradient, was cut
    back to 5e-17 and the run stalled 4e-7 (relative) from the optimum at
    a gradient of 3e-10, 1e7 times its rounding.
    """
    pg_norm = float(np.dot(pg, pg))
    for _ in range(MAX_BACKTRACKS):
        x_new = _project(x + step * d, x, pg, l1)
        F_new, _, g_new = yield from objective(x_new)
        expected = float(np.dot(pg, x_new - x))   # < 0 along a descent direction
        if math.isfinite(F_new) and F_new <= F + ARMIJO * expected:
            if extrapolate:
                return (yield from _extrapolate(objective, x, F, pg, d, step, l1,
                                                (x_new, F_new, g_new)))
            return x_new, F_new, g_new
        extrapolate = False
        if math.isfinite(F_new) and abs(F_new - F) <= NOISE * max(abs(F), TINY):
            pg_new = pseudo_gradient(x_new, g_new, l1)
            if float(np.dot(pg_new, x_new - x)) <= (2.0 * ARMIJO - 1.0) * expected \
                    or float(np.dot(pg_new, pg_new)) < pg_norm:
                return x_new, F_new, g_new
        # minimizer of the quadratic through F, the slope and F_new, kept
        # within [0.1, 0.5] of the step (halving when F_new is not finite)
        slope = float(np.dot(pg, d)) * step
        if math.isfinite(F_new):
            curv = F_new - F - slope
            shrink = -slope / (2.0 * curv) if curv > 0.0 else 0.5
            step *= min(0.5, max(0.1, shrink))
        else:
            step *= 0.5
    return None


def _extrapolate(objective, x, F, pg, d, step, l1, accepted):
    """The quadratic model's step along ``d`` if it is more than twice
    ``step`` and lowers the objective below ``accepted``'s (see
    :func:`_line_search`), else ``accepted``."""
    slope = float(np.dot(pg, d)) * step
    curv = accepted[1] - F - slope
    if not curv > 0.0:
        return accepted
    far = step * min(-slope / (2.0 * curv), 1e3)
    if not far > 2.0 * step:
        return accepted
    x_far = _project(x + far * d, x, pg, l1)
    F_far, _, g_far = yield from objective(x_far)
    if math.isfinite(F_far) and F_far < accepted[1]:
        return x_far, F_far, g_far
    return accepted
