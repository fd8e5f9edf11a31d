"""Shared by the test files: the scikit-learn checks expected to fail, the
torch.optim step oracle, the standardized dataset loader and the numpy
Crammer-Singer reference, the lbfgs max_iter / callback check, a text-like
CSR data set."""
import numpy as np


def expected_failed_checks(est):
    """Sample-weight equivalence cannot hold for true minibatches (batch_size
    below the checks' data sizes); scikit-learn expects the same of its SGD
    estimators.  Nor for the calibration wrapper, whose held-out split is
    random.  The regressor's SGD step diverges on the unscaled data
    (|x| ~ 100) of three checks, which raises TrainingDiverged, as meant;
    the checks whose data is scaled pass with the same step."""
    weight_checks = ("check_sample_weight_equivalence_on_dense_data",
                     "check_sample_weight_equivalence_on_sparse_data")
    if type(est).__name__ == "TemperatureScaledClassifier":
        reason = ("the held-out split is random: the repeated copies of a row land on both "
                  "sides of it, a row weighted 2 on one side only")
        return dict.fromkeys(weight_checks, reason)
    failures = {}
    if est.batch_size < 100 and est.solver != "lbfgs":
        reason = ("minibatch SGD visits rows in random batches, so weighting a row by 2 "
                  "is not the same trajectory as repeating it (scikit-learn expects this "
                  "check to fail for its SGD estimators too)")
        failures.update(dict.fromkeys(weight_checks, reason))
    if type(est).__name__ == "LinearRegressor" and est.solver in ("sgd", "rmsprop", "adagrad"):
        # (the regressor checks that fit scaled data pass with these steps)
        reason = (f"{est.solver} with eta0={est.eta0} diverges on this check's unscaled "
                  "features (|x| ~ 100): TrainingDiverged says so (standardize X or use "
                  "solver='lbfgs')")
        failures.update({c: reason for c in ("check_fit_idempotent", "check_n_features_in",
                                             "check_fit_check_is_fitted")})
    return failures


def assert_steps_match_torch(spec, dtype, torch_optimizer, n_steps=25, seed=0, zero_grads=False,
                             expect_zeros=False):
    """n_steps of skce's compiled optimizer step (the training code path)
    against `torch_optimizer(torch, params, spec, lr)` on the same gradients,
    comparing the parameters after every step (float64 to 1e-12, float32 to
    2e-5 with torch computing in float32).  params = [W, b]: the caller's
    optimizer gives W weight_decay = spec.alpha and b none, as skce does.
    expect_zeros: some weights must be exactly zero after some step (an L1 step)."""
    import numpy as np
    import pytest
    torch = pytest.importorskip("torch")
    from skce._loss import LOSSES
    from skce._solver import EpochSettings, LossSpec, SolverState, _epoch as _solver
    d, K, lr = 7, 3, 0.05
    rng = np.random.default_rng(seed)
    W0, b0 = rng.standard_normal((d, K)), rng.standard_normal(K)
    grads = rng.standard_normal((n_steps, d * K + K)) * rng.uniform(0.01, 3, (n_steps, 1))
    if zero_grads:
        grads[3, :4] = 0.0
    state = SolverState.new(d, K, dtype, lr, W0.T, b0)
    settings = EpochSettings(LossSpec.of(LOSSES["squared_error"], K), spec, state)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    params = [torch.tensor(W0.ravel(), dtype=tdtype, requires_grad=True),
              torch.tensor(b0, dtype=tdtype, requires_grad=True)]
    topt = torch_optimizer(torch, params, spec, lr)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    zeros = 0
    for t, g in enumerate(grads):
        g = g.astype(dtype)
        _solver.optimizer_step(settings, g)
        params[0].grad = torch.tensor(g[:d * K], dtype=tdtype)
        params[1].grad = torch.tensor(g[d * K:], dtype=tdtype)
        topt.step()
        expect = np.concatenate([p.detach().numpy() for p in params])
        np.testing.assert_allclose(state.theta, expect, rtol=tol, atol=tol,
                                   err_msg=f"step {t + 1}")
        zeros += int(np.sum(state.theta[:d * K] == 0.0))
    assert settings.step == n_steps
    if expect_zeros:
        assert zeros > 0, "no weight was zeroed: the L1 threshold was not exercised"


def standardized(loader):
    """(X standardized, y) of a scikit-learn dataset loader."""
    from sklearn.preprocessing import StandardScaler
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def crammer_singer_ref(x, y, p, margin, weight=None, sample_weight=None, reduction="none"):
    """Loss and gradient (of the reduced loss) of the Crammer-Singer hinge
    max(0, margin + max_{j != y} x_j - x_y)**p, class- and sample-weighted,
    in float64 loops.  Ties go to the first wrong class, as skce's kernel."""
    n, C = x.shape
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    per = np.zeros(n)
    g = np.zeros((n, C))
    for i in range(n):
        others = x[i].astype(np.float64).copy()
        others[y[i]] = -np.inf
        j = int(np.argmax(others))
        z = margin + x[i, j] - x[i, y[i]]
        if z > 0:
            per[i] = sw[i] * w[y[i]] * z**p
            d = sw[i] * w[y[i]] * p * z ** (p - 1)
            g[i, j] += d
            g[i, y[i]] -= d
    if reduction == "none":
        return per, g
    if reduction == "sum":
        return per.sum(), g
    return per.sum() / sw.sum(), g / sw.sum()


def fitted_objective(est, X, y, sw=None):
    """skce's objective F(coef, intercept) of a fitted estimator's problem
    (its loss, weights, alpha and penalty), evaluated in float64."""
    from skce._solver._objective import LinearObjective

    if hasattr(est, "classes_"):
        targets = np.searchsorted(est.classes_, y)
        loss = est._loss_spec(targets, X.dtype)
        sw_all = est._weights(X, sw, targets)
    else:
        loss = est._loss_spec(est._targets(X, y))
        sw_all = sw
    alpha = est._alpha_for(sw_all, None, X.shape[0]) or est.alpha
    l1, l2 = est._optimizer_spec(alpha).l1_l2()
    obj = LinearObjective(X.astype(np.float64), loss, l1=l1, l2=l2, sample_weight=sw_all,
                          fit_intercept=est.fit_intercept)

    def F(coef, intercept):
        coef = np.atleast_2d(np.asarray(coef, np.float64))
        return obj.loss(obj.pack(coef.T, np.atleast_1d(np.asarray(intercept, np.float64))))
    return F


def check_lbfgs_max_iter_warns_and_callback_stops(X, y, max_iter, **params):
    """SoftmaxClassifier(solver="lbfgs", tol=1e-10, **params): max_iter reached
    warns and stops there; a callback returning True at iteration 4 stops the
    fit there, silently, having seen every objective of loss_curve_.
    Returns the two fitted estimators."""
    import warnings

    import pytest
    from sklearn.exceptions import ConvergenceWarning

    from skce.linear_model import SoftmaxClassifier

    kw = dict(solver="lbfgs", tol=1e-10, **params)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        limited = SoftmaxClassifier(max_iter=max_iter, **kw).fit(X, y)
    assert limited.n_iter_ == max_iter
    seen = []

    def callback(it, coef, intercept, objective):
        seen.append(objective)
        return it == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        stopped = SoftmaxClassifier(max_iter=100, **kw).fit(X, y, callback=callback)
    assert stopped.n_iter_ == 4 and seen == stopped.loss_curve_
    return limited, stopped


def text_like(n=2000, d=3000, K=5, nnz=20, seed=0):
    """CSR rows of Zipf-distributed words (sublinear tf, unit norm), labels from
    a sparse random model: column scales span ~3 orders of magnitude."""
    import scipy.sparse as sp
    rng = np.random.default_rng(seed)
    p = 1.0 / (np.arange(d) + 10.0)
    cols = rng.choice(d, size=(n, nnz), p=p / p.sum())
    X = sp.csr_matrix((np.ones(n * nnz), cols.ravel(), np.arange(0, n * nnz + 1, nnz)),
                      shape=(n, d))
    X.sum_duplicates()
    X.data = 1 + np.log(X.data)
    X = sp.csr_matrix(sp.diags(1 / np.sqrt(X.multiply(X).sum(axis=1).A1)) @ X)
    W = rng.standard_normal((d, K)) * (rng.random((d, K)) < 0.05) * 8
    return X, np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
