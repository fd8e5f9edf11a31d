"""L-BFGS on centered parameters (`_lbfgs.CenteredIntercept`): the same
function of the model, its gradient, when it applies, and what it buys on
uncentered columns; the column moments it is decided from."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skce import SoftmaxClassifier
from skce._loss import LOSSES
from skce._solver import LossSpec, _epoch, _lbfgs
from skce._solver._lbfgs import CenteredIntercept
from skce._solver._objective import LinearObjective, zero_column_weights


def _uncentered(n=400, d=7, K=4, seed=0):
    """Columns of means 2 .. 8 and spreads 0.5 .. 3, labels from a linear model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(0.5, 3, d) + np.linspace(2, 8, d)
    y = np.argmax((X - X.mean(0)) @ rng.standard_normal((d, K)) + rng.gumbel(size=(n, K)), 1)
    return X, y


def _objective(X, y, K, sw=None, l2=0.01):
    return LinearObjective(X, LossSpec.of(LOSSES["cross_entropy"], K, y=y), l2=l2,
                           sample_weight=sw)


@pytest.mark.parametrize("sparse", [False, True])
def test_centered_parameters_give_the_same_function_and_its_gradient(sparse):
    X, y = _uncentered()
    X[np.random.default_rng(1).random(X.shape) < 0.3] = 0.0
    sw = np.random.default_rng(2).random(len(y)) + 0.5
    obj = _objective(sp.csr_matrix(X) if sparse else X, y, 4, sw)
    sums, squares = obj.column_moments()
    np.testing.assert_allclose(sums, sw @ X, rtol=1e-12)
    np.testing.assert_allclose(squares, sw @ X ** 2, rtol=1e-12)
    center = CenteredIntercept.of(sums, squares, obj.weight_sum, 4, True)
    assert center is not None
    np.testing.assert_allclose(center.mean, sw @ X / sw.sum(), rtol=1e-12)
    theta = np.random.default_rng(3).standard_normal(obj.n_params) * 0.3
    x = center.centered(theta)
    np.testing.assert_allclose(center.uncentered(x), theta, rtol=1e-12, atol=1e-14)
    # the scores: (X - 1 mu^T) W + c = X W + b
    W, b = obj.unpack(theta)
    np.testing.assert_allclose((X - center.mean) @ W + x[-4:], X @ W + b, rtol=1e-12)
    fun = center.wrap(obj.loss_gradient)
    f, g = fun(x)
    assert f == pytest.approx(obj.loss(theta), rel=1e-14)
    h = 1e-6
    for i in (0, 5, 13, obj.n_params - 4, obj.n_params - 1):   # weights and intercepts
        e = np.zeros_like(x)
        e[i] = h
        fd = (fun(x + e)[0] - fun(x - e)[0]) / (2 * h)
        assert g[i] == pytest.approx(fd, rel=1e-6, abs=1e-9), i
    # the centered column squares are the squares of X - 1 mu^T
    np.testing.assert_allclose(center.column_squares(squares, obj.weight_sum),
                               sw @ (X - center.mean) ** 2, rtol=1e-9)


def test_centering_applies_only_to_uncentered_columns_with_an_intercept():
    X, y = _uncentered()
    Xs = StandardScaler().fit_transform(X)
    for A, fit_intercept, applies in ((X, True, True), (X, False, False), (Xs, True, False)):
        sums, squares = _objective(A, y, 4).column_moments()
        center = CenteredIntercept.of(sums, squares, len(y), 4, fit_intercept)
        assert (center is not None) == applies
    # one constant column of value 5 among standardized ones: centered, and its
    # centered squares are exactly 0, so they do not count for the precondition
    Xc = np.column_stack([Xs, np.full(len(y), 5.0)])
    obj = _objective(Xc, y, 4)
    sums, squares = obj.column_moments()
    center = CenteredIntercept.of(sums, squares, obj.weight_sum, 4, True)
    centered = center.column_squares(squares, obj.weight_sum)
    assert centered[-1] == 0.0 and np.all(centered[:-1] > 0)
    h = obj.diagonal_curvature(centered)
    fixed = zero_column_weights(centered, 4, True)
    assert fixed.sum() == 4 and fixed[-8:-4].all()
    assert _lbfgs.diagonal_precondition(h) is not None       # the constant column alone
    assert _lbfgs.diagonal_precondition(h, fixed) is None    # ... left out


def test_uncentered_columns_reach_the_optimum_in_fewer_iterations(monkeypatch):
    """Raw pixel values (0..16, digits): the same optimum with and without
    centering, and fewer iterations with it; fails when centering is off."""
    X, y = load_digits(return_X_y=True)
    kw = dict(solver="lbfgs", tol=1e-8, max_iter=10_000)
    centered = SoftmaxClassifier(**kw).fit(X, y)
    monkeypatch.setattr(_lbfgs, "_CENTER_SHARE", 1.0)   # mean^2 <= mean square: never
    plain = SoftmaxClassifier(**kw).fit(X, y)
    obj = _objective(X, y, 10, l2=1.0 / len(y))
    obj_c = obj.loss(obj.pack(centered.coef_.T, centered.intercept_))
    obj_p = obj.loss(obj.pack(plain.coef_.T, plain.intercept_))
    assert abs(obj_c - obj_p) <= 1e-8 * obj_p
    assert centered.n_iter_ < 0.6 * plain.n_iter_, (centered.n_iter_, plain.n_iter_)


def test_uncentered_letter_default_fit_converges():
    """UCI letter's raw features (integers 0..15, the bundled set): the default
    fit converges within max_iter=100 (before the centering it stopped at 100
    iterations, 6.7e-2 above the optimum)."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from skce.datasets import load_letter
    X, y = load_letter(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxClassifier().fit(X, y)
    assert clf.n_iter_ < 100


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_pass_moments_are_those_of_the_moments_kernel(dtype, weighted):
    X, y = _uncentered(n=3000, d=37, K=5)
    X = X.astype(dtype)
    sw = np.random.default_rng(4).random(len(y)) + 0.5 if weighted else None
    obj = _objective(X, y, 5, sw)
    assert obj._small_k
    theta = np.random.default_rng(5).standard_normal(obj.n_params) * 0.1
    f, g, (sums, squares) = obj.loss_gradient_moments(theta)
    f2, g2 = obj.loss_gradient(theta)
    assert f == f2
    np.testing.assert_array_equal(g, g2)
    moments = _epoch.dense_column_moments(X, obj.sample_weight, 2)
    np.testing.assert_array_equal(sums, moments[0])
    np.testing.assert_array_equal(squares, moments[1])
    w = np.ones(len(y)) if sw is None else sw
    Xd = X.astype(np.float64)
    np.testing.assert_allclose(sums, w @ Xd, rtol=1e-12)
    np.testing.assert_allclose(squares, w @ Xd ** 2, rtol=1e-12)
    # threads do not change the bits
    np.testing.assert_array_equal(_epoch.dense_column_moments(X, obj.sample_weight, 1), moments)
