"""solver="rmsprop" and solver="adagrad" step for step against torch.optim.

Each case runs 30 steps of the solver's own compiled step (the code path of
training, `skce._solver._epoch.optimizer_step`) and of torch.optim.RMSprop /
Adagrad on the same gradients, the weights with weight_decay = alpha (L2)
and the intercept without, and compares the parameters after every step
(see _checks.assert_steps_match_torch).  scikit-learn's checks of the
estimators with these solvers are in linear_model/test_sklearn_checks.py.
"""
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skce import LinearRegressor, LinearSVM, SoftmaxClassifier
from skce._solver import OptimizerSpec

from _checks import assert_steps_match_torch

CASES = {
    "rmsprop": dict(solver="rmsprop"),
    "rmsprop_wd": dict(solver="rmsprop", alpha=0.1),
    "rmsprop_rho": dict(solver="rmsprop", rho=0.7, epsilon=1e-6),
    "rmsprop_centered": dict(solver="rmsprop", centered=True, alpha=0.05),
    "rmsprop_momentum": dict(solver="rmsprop", momentum=0.9),
    "rmsprop_centered_momentum_wd": dict(solver="rmsprop", centered=True, momentum=0.5,
                                         alpha=0.2, rho=0.3),
    "adagrad": dict(solver="adagrad", epsilon=1e-10),
    "adagrad_wd": dict(solver="adagrad", alpha=0.1),
    "adagrad_lr_decay": dict(solver="adagrad", lr_decay=0.05),
    "adagrad_init_acc": dict(solver="adagrad", initial_accumulator_value=0.3, alpha=0.01,
                             lr_decay=0.01),
}


def _torch_optimizer(torch, params, spec, lr):
    groups = [{"params": [params[0]], "weight_decay": spec.alpha},
              {"params": [params[1]], "weight_decay": 0.0}]   # the intercept: no penalty
    if spec.solver == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, alpha=spec.rho, eps=spec.epsilon,
                                   momentum=spec.momentum, centered=spec.centered)
    return torch.optim.Adagrad(groups, lr=lr, lr_decay=spec.lr_decay, eps=spec.epsilon,
                               initial_accumulator_value=spec.initial_accumulator_value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_steps_match_torch_optim(case, dtype):
    spec = OptimizerSpec(**{"alpha": 0.0, "momentum": 0.0, **CASES[case]})
    # zero gradients: sqrt(0) + eps denominators
    assert_steps_match_torch(spec, dtype, _torch_optimizer, n_steps=30, seed=1,
                             zero_grads=True)


@pytest.mark.parametrize("solver", ["rmsprop", "adagrad"])
def test_l1_proximal_step_gives_exact_zeros(solver):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    constant = np.ptp(X, axis=0) == 0
    fits = {penalty: SoftmaxClassifier(solver=solver, penalty=penalty, alpha=0.01,
                                       random_state=0, max_iter=20, tol=None).fit(X, y)
            for penalty in ("l1", "l2")}
    # the soft-threshold step leaves exact zeros; the L2 step none
    assert np.mean(fits["l1"].coef_[:, ~constant] == 0) > 0.1
    assert np.all(fits["l2"].coef_[:, ~constant] != 0)
    assert fits["l1"].score(X, y) > 0.85


@pytest.mark.parametrize("solver", ["rmsprop", "adagrad"])
def test_estimators_train_with_new_solvers(solver):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    for dtype in (np.float64, np.float32):
        clf = SoftmaxClassifier(solver=solver, random_state=0, max_iter=15).fit(
            X.astype(dtype), y)
        assert clf.coef_.dtype == dtype
        assert clf.score(X, y) > 0.95
    svm = LinearSVM(solver=solver, random_state=0, max_iter=15).fit(X, y)
    assert svm.score(X, y) > 0.9
    Y = X @ np.random.default_rng(0).standard_normal(64) + 3.0
    # RMSprop and Adagrad move each coordinate by about eta0 per step: the
    # classifier defaults, not LinearRegressor's SGD-sized 0.003
    reg = LinearRegressor(solver=solver, eta0=SoftmaxClassifier._DEFAULT_ETA0[solver],
                          learning_rate="constant", random_state=0, max_iter=100).fit(X, Y)
    assert reg.score(X, Y) > 0.99


def test_momentum_default_per_solver():
    """momentum=None: SGD's 0.9, RMSprop's torch default 0 (an explicit value is used as given)."""
    assert SoftmaxClassifier(solver="sgd")._optimizer_spec().momentum == 0.9
    assert SoftmaxClassifier(solver="rmsprop")._optimizer_spec().momentum == 0.0
    assert SoftmaxClassifier(solver="rmsprop", momentum=0.5)._optimizer_spec().momentum == 0.5
