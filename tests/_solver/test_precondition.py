"""The diagonal preconditioning of skce's own L-BFGS (`_owlqn.minimize_owlqn`'s
precondition, from `_objective.diagonal_curvature`): the estimate against
the exact Hessian diagonal (finite differences of the gradient) where it is
exact, the start's curvature against the intercept-only model's
probabilities, and on text-like data (column scales spanning orders of
magnitude) LogisticRegression's optimum reached in fewer iterations than
without it.  (skce.dask's fit: tests/test_dask.py.)"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skce._loss import LOSSES
from skce._solver import LossSpec, _lbfgs, _owlqn
from skce._solver._objective import LinearObjective, intercept_only, start_curvature
from skce.linear_model import SoftmaxClassifier

from _checks import text_like


def _fd_hessian_diagonal(obj, theta, eps=1e-4):
    out = np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = eps
        out[i] = (obj.gradient(theta + e)[i] - obj.gradient(theta - e)[i]) / (2 * eps)
    return out


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_diagonal_curvature_is_the_squared_errors_hessian_diagonal(sparse, weighted,
                                                                   fit_intercept):
    # exact for the squared error (its row curvature is 1 everywhere); columns of
    # very different scales, chunks of 7 rows so that the sums cross chunks
    rng = np.random.default_rng(0)
    n, d, K = 50, 6, 2
    X = rng.standard_normal((n, d)) * np.array([1e-2, 0.1, 1, 3, 10, 0.0])
    X[rng.random((n, d)) < 0.4] = 0.0
    Y = rng.standard_normal((n, K))
    sw = rng.random(n) + 0.5 if weighted else None
    spec = LossSpec.of(LOSSES["squared_error"], K, Y=Y)
    obj = LinearObjective(sp.csr_matrix(X) if sparse else X, spec, l2=0.3, sample_weight=sw,
                          fit_intercept=fit_intercept, chunk_rows=7)
    theta = rng.standard_normal(obj.n_params)
    h = obj.diagonal_curvature()
    expect = _fd_hessian_diagonal(obj, theta)
    expect[(d - 1) * K:d * K] = 0.3   # the all-zero column: its Hessian is the L2 alone
    np.testing.assert_allclose(h, expect, rtol=1e-7)
    np.testing.assert_allclose(
        obj.column_moments()[1], (X ** 2).T @ (np.ones(n) if sw is None else sw), rtol=1e-12)


def test_start_curvature_is_that_of_the_intercept_only_model():
    rng = np.random.default_rng(1)
    y = rng.choice(4, size=300, p=[0.6, 0.25, 0.1, 0.05])
    sw = rng.random(300) + 0.2
    spec = LossSpec.of(LOSSES["cross_entropy"], 4, y=y.astype(np.int64))
    p = softmax(intercept_only(spec, sw))   # the probabilities a cold fit starts from
    assert start_curvature(spec, sw) == pytest.approx(np.mean(p * (1 - p)), rel=1e-9)
    ls = LossSpec.of(LOSSES["cross_entropy"], 4, y=y.astype(np.int64), label_smoothing=0.2)
    p = softmax(intercept_only(ls, sw))
    assert start_curvature(ls, sw) == pytest.approx(np.mean(p * (1 - p)), rel=1e-9)
    assert start_curvature(LossSpec.of(LOSSES["squared_hinge"], 3, Y=np.ones((5, 3)))) == 2.0


def test_no_precondition_where_the_diagonal_is_flat():
    rng = np.random.default_rng(2)
    X = StandardScaler().fit_transform(rng.standard_normal((400, 30)) * rng.random(30) * 50)
    spec = LossSpec.of(LOSSES["cross_entropy"], 3, y=rng.integers(0, 3, 400))
    obj = LinearObjective(X, spec, l2=1 / 400)
    assert _lbfgs.diagonal_precondition(obj.diagonal_curvature()) is None
    obj = LinearObjective(X * np.r_[np.ones(29), 100.0], spec, l2=1 / 400)
    assert _lbfgs.diagonal_precondition(obj.diagonal_curvature()) is not None


@pytest.fixture
def iterations(monkeypatch):
    """Runs a fit with the preconditioning on or off; records the own L-BFGS's
    iterations and whether it was given a precondition."""
    own = _owlqn.minimize_owlqn
    record = []

    def spy(*args, precondition=None, **kwargs):
        result = own(*args, precondition=precondition if record[-1]["on"] else None, **kwargs)
        record[-1].update(nit=result.nit, given=precondition is not None)
        return result

    monkeypatch.setattr(_lbfgs, "minimize_owlqn", spy)

    def run(fit, on):
        record.append({"on": on})
        model = fit()
        return model, record[-1]
    return run


def test_text_like_optimum_in_fewer_iterations(iterations):
    X, y = text_like()
    n = X.shape[0]
    ref = LogisticRegression(C=1.0, tol=1e-12, max_iter=20000).fit(X, y)
    obj = LinearObjective(X, LossSpec.of(LOSSES["cross_entropy"], 5, y=y.astype(np.int64)),
                          l2=1.0 / n)
    F_ref = obj.loss(obj.pack(ref.coef_.T, ref.intercept_))

    def fit():
        return SoftmaxClassifier(solver="lbfgs", alpha=1.0 / n, tol=1e-10,
                                 max_iter=5000).fit(X, y)
    fits = {on: iterations(fit, on) for on in (True, False)}
    for on, (clf, rec) in fits.items():
        assert rec["given"]   # 15,005 parameters: the own L-BFGS, text-like scales
        F = obj.loss(obj.pack(clf.coef_.T, clf.intercept_))
        assert (F - F_ref) / F_ref <= 1e-8, (on, F, F_ref)
    # measured: 31 iterations with the preconditioning, 96 without
    assert fits[True][1]["nit"] < 0.6 * fits[False][1]["nit"], \
        (fits[True][1]["nit"], fits[False][1]["nit"])
