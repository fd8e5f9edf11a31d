"""SoftmaxClassifier and the shared solver core: torch.optim as the
optimizer oracle, LogisticRegression's optimum, layouts, dtypes, threads,
partial_fit and failure modes."""
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _checks import assert_steps_match_torch
from skce import SoftmaxClassifier, losses
from skce._solver import _epoch as _solver
from skce._loss import LOSSES
from skce._solver import (EpochSettings, LossSpec, OptimizerSpec, SolverState,
                          TrainingDiverged)



# --------------------------------------------------------------------------
# optimizer steps against torch.optim
# --------------------------------------------------------------------------
OPTIM_CASES = {
    "sgd": dict(solver="sgd", momentum=0.0),
    "sgd_wd": dict(solver="sgd", momentum=0.0, alpha=0.1),
    "sgd_momentum": dict(solver="sgd", momentum=0.9),
    "sgd_momentum_dampening_wd": dict(solver="sgd", momentum=0.8, dampening=0.3, alpha=0.05),
    "sgd_nesterov_wd": dict(solver="sgd", momentum=0.9, nesterov=True, alpha=0.05),
    "adam": dict(solver="adam"),
    "adam_betas_eps": dict(solver="adam", beta_1=0.5, beta_2=0.9, epsilon=1e-3),
    "adam_wd": dict(solver="adam", alpha=0.1),
    "adam_amsgrad_wd": dict(solver="adam", amsgrad=True, alpha=0.01),
    "adamw": dict(solver="adam", alpha=0.1, decoupled_weight_decay=True),
    "adamw_amsgrad": dict(solver="adam", alpha=0.1, decoupled_weight_decay=True, amsgrad=True),
}


def _torch_optimizer(torch, params, spec, lr):
    wd_params = [params[0]]
    groups = [{"params": wd_params, "weight_decay": spec.alpha},
              {"params": [params[1]], "weight_decay": 0.0}]   # the intercept: no penalty
    if spec.solver == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=spec.momentum,
                               dampening=spec.dampening, nesterov=spec.nesterov)
    cls = torch.optim.AdamW if spec.decoupled_weight_decay else torch.optim.Adam
    return cls(groups, lr=lr, betas=(spec.beta_1, spec.beta_2), eps=spec.epsilon,
               amsgrad=spec.amsgrad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(OPTIM_CASES), ids=list(OPTIM_CASES))
def test_optimizer_steps_match_torch(case, dtype):
    spec = OptimizerSpec(**{"alpha": 0.0, **OPTIM_CASES[case]})
    assert_steps_match_torch(spec, dtype, _torch_optimizer)


def test_l1_proximal_step_gives_exact_zeros(digits):
    X, y = digits
    clf = SoftmaxClassifier(penalty="l1", alpha=0.01, random_state=0, max_iter=30,
                            tol=None).fit(X, y)
    assert np.mean(clf.coef_ == 0) > 0.2
    assert clf.score(X, y) > 0.85
    dense = SoftmaxClassifier(alpha=0.01, random_state=0, max_iter=30, tol=None).fit(X, y)
    # under L2 only the weights of digits' constant (all-zero) pixels stay 0
    constant = np.ptp(X, axis=0) == 0
    assert np.all(dense.coef_[:, ~constant] != 0)
    assert np.mean(clf.coef_[:, ~constant] == 0) > 0.2
    en = SoftmaxClassifier(solver="sgd", penalty="elasticnet", l1_ratio=0.5, alpha=0.01,
                           random_state=0, max_iter=30, tol=None).fit(X, y)
    assert 0 < np.mean(en.coef_ == 0) < 1


def test_learning_rate_schedules():
    """The per-step learning rate, read back through a plain SGD step with unit gradient."""
    for name, expect in [
        ("constant", lambda t: 0.5),
        ("invscaling", lambda t: 0.5 / t ** 0.25),
        ("cosine", lambda t: 0.5 * 0.5 * (1 + np.cos(np.pi * min(t - 1, 10) / 10))),
    ]:
        spec = OptimizerSpec(solver="sgd", momentum=0.0, alpha=0.0, learning_rate=name,
                             power_t=0.25)
        state = SolverState.new(1, 1, np.float64, 0.5)
        settings = EpochSettings(LossSpec.of(LOSSES["squared_error"], 1), spec, state,
                                 total_steps=10)
        for t in range(1, 13):
            before = state.theta[0]
            _solver.optimizer_step(settings, np.array([1.0, 0.0]))
            np.testing.assert_allclose(before - state.theta[0], expect(t),
                                       rtol=1e-14, atol=1e-15, err_msg=f"{name} step {t}")


# --------------------------------------------------------------------------
# the optimum of LogisticRegression
# --------------------------------------------------------------------------
def _objective(coef, intercept, X, y, alpha):
    z = X @ coef.T + intercept
    if z.shape[1] == 1:
        data = losses.binary_cross_entropy_with_logits(z[:, 0], (y == 1).astype(float))
    else:
        data = losses.cross_entropy(z, y)
    return data + 0.5 * alpha * float(np.sum(coef.astype(np.float64) ** 2))


def _check_logreg_optimum(X, y, C, **kw):
    y = np.unique(y, return_inverse=True)[1]
    alpha = 1.0 / (C * X.shape[0])
    ref = LogisticRegression(C=C, tol=1e-12, max_iter=20000).fit(X, y)
    ours = SoftmaxClassifier(alpha=alpha, random_state=0, batch_size=X.shape[0], tol=None,
                             **kw).fit(X, y)
    f_ref = _objective(ref.coef_, ref.intercept_, X, y, alpha)
    f_ours = _objective(ours.coef_, ours.intercept_, X, y, alpha)
    assert abs(f_ours - f_ref) <= 1e-4 * abs(f_ref), (f_ours, f_ref)
    return ours, ref


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_reaches_logistic_regression_optimum_digits(digits):
    X, y = digits
    _check_logreg_optimum(X, y, C=0.5, solver="sgd", eta0=0.5, nesterov=True, max_iter=1500)
    _check_logreg_optimum(X, y, C=0.5, solver="adam", eta0=0.05, learning_rate="cosine",
                          max_iter=3000)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_reaches_logistic_regression_optimum_binary():
    X, y = load_iris(return_X_y=True)
    X, y = StandardScaler().fit_transform(X[y > 0]), y[y > 0]
    ours, _ = _check_logreg_optimum(X, y, C=1.0, solver="sgd", eta0=0.5, nesterov=True,
                                    max_iter=3000)
    assert ours.coef_.shape == (1, 4)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_reaches_logistic_regression_optimum_letter(letter_file):
    X, y = letter_file[:, 1:], letter_file[:, 0].astype(int)
    _check_logreg_optimum(X, y, C=0.1, solver="sgd", eta0=3.0, nesterov=True, max_iter=250)


# --------------------------------------------------------------------------
# layouts, dtypes, threads
# --------------------------------------------------------------------------
def test_dense_csr_and_fortran_give_the_same_model(digits):
    X, y = digits
    kw = dict(random_state=0, max_iter=5, tol=None, batch_size=64)
    ref = SoftmaxClassifier(**kw).fit(X, y)
    for Xv in (sp.csr_matrix(X), np.asfortranarray(X), sp.csc_matrix(X)):
        other = SoftmaxClassifier(**kw).fit(Xv, y)
        np.testing.assert_allclose(other.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(other.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)


def test_float32_is_kept_and_agrees_with_float64(digits):
    X, y = digits
    kw = dict(random_state=0, max_iter=5, tol=None)
    m64 = SoftmaxClassifier(**kw).fit(X, y)
    X32 = X.astype(np.float32)
    m32 = SoftmaxClassifier(**kw).fit(X32, y)
    assert m32.coef_.dtype == np.float32 and m32.intercept_.dtype == np.float32
    scale = np.abs(m64.coef_).max()
    np.testing.assert_allclose(m32.coef_, m64.coef_, atol=2e-4 * scale)
    assert np.mean(m32.predict(X) == m64.predict(X)) > 0.99
    m32s = SoftmaxClassifier(**kw).fit(sp.csr_matrix(X32), y)
    assert m32s.coef_.dtype == np.float32


def test_float32_input_is_not_copied(monkeypatch):
    """The epoch receives the caller's float32 array itself."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    seen = []
    real = _solver.epoch_dense

    def spy(s, Xe, order, bs, *args):
        seen.append(Xe)
        return real(s, Xe, order, bs, *args)
    monkeypatch.setattr(_solver, "epoch_dense", spy)
    SoftmaxClassifier(solver="adam", max_iter=2, tol=None).fit(X, y)
    assert seen and all(np.shares_memory(a, X) for a in seen)


def test_fit_memory_is_a_small_fraction_of_float32_X():
    """Beyond X (never copied), fit keeps three int64 arrays of n (class
    indices, the rows, their shuffled order) and per-batch buffers: < 10% of
    a float32 X with 100 features (the #5 goal); the label encoding and the
    shuffle add no n-sized temporaries (8.2 MB here before they were
    changed)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 100), dtype=np.float32)   # 80 MB
    y = rng.integers(0, 10, len(X))
    SoftmaxClassifier(max_iter=1, tol=None, random_state=0).fit(X[:1000], y[:1000])  # warm-up
    tracemalloc.start()
    try:
        SoftmaxClassifier(max_iter=2, tol=None, random_state=0).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.10 * X.nbytes, f"fit allocated {peak / 1e6:.1f} MB for {X.nbytes / 1e6} MB X"


@pytest.mark.parametrize("y", [
    np.array([3, -2, 3, 7, -2]), np.array([2, 0, 2], dtype=np.uint8),
    np.array([10**12 + 3, 10**12, 10**12 + 3]), np.array([0, 10**9, 0]),
    np.array([2**63 + 5, 2**63 + 1], dtype=np.uint64), np.array(["b", "a", "b"]),
    np.array([1.5, 0.5, 1.5]), np.array([True, False, True])])
def test_label_encoding_matches_np_unique(y):
    from skce.linear_model._base import _unique_labels
    classes, idx = _unique_labels(y)
    ref_classes, ref_idx = np.unique(y, return_inverse=True)
    assert classes.dtype == ref_classes.dtype and np.array_equal(classes, ref_classes)
    assert idx.dtype == np.int64 and np.array_equal(idx, ref_idx)


@pytest.mark.parametrize("n_features, n_jobs", [(120, 2), (101, 3)])
def test_results_do_not_depend_on_n_jobs(n_features, n_jobs):
    # batches large enough for several threads in every parallel region; 101
    # features split unevenly between 3 threads in the weight gradient
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6000, n_features))
    y = (X[:, :10] @ rng.standard_normal((10, 7))).argmax(1)
    kw = dict(random_state=3, max_iter=3, tol=None, batch_size=1024)
    a = SoftmaxClassifier(n_jobs=1, **kw).fit(X, y)
    b = SoftmaxClassifier(n_jobs=n_jobs, **kw).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    # dW split by features instead of per-block shares
    previous = _solver._set_partial_max(0)
    try:
        a = SoftmaxClassifier(n_jobs=1, **kw).fit(X, y)
        b = SoftmaxClassifier(n_jobs=n_jobs, **kw).fit(X, y)
    finally:
        _solver._set_partial_max(previous)
    assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)
    c = SoftmaxClassifier(n_jobs=n_jobs, **kw).fit(sp.csr_matrix(X), y)
    d = SoftmaxClassifier(n_jobs=1, **kw).fit(sp.csr_matrix(X), y)
    assert np.array_equal(c.coef_, d.coef_)


# --------------------------------------------------------------------------
# API: pipelines, search, pickling, pandas, partial_fit, options
# --------------------------------------------------------------------------
def test_pipeline_in_grid_search(digits):
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0, stratify=y)
    pipe = make_pipeline(StandardScaler(), SoftmaxClassifier(random_state=0, max_iter=30))
    grid = GridSearchCV(pipe, {"softmaxclassifier__solver": ["sgd", "adam"],
                               "softmaxclassifier__alpha": [1e-4, 1e-2],
                               "softmaxclassifier__batch_size": [32, 256]}, cv=3, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(Xtr, ytr)
    assert grid.score(Xte, yte) > 0.93
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(restored.predict_proba(Xte),
                                  grid.best_estimator_.predict_proba(Xte))


def test_pandas_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    clf = SoftmaxClassifier(random_state=0, max_iter=20, tol=None).fit(X, y)
    np.testing.assert_array_equal(clf.feature_names_in_, X.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X.to_numpy())
    assert isinstance(clf.predict(X), np.ndarray)
    assert pd is not None


def test_partial_fit_semantics(digits):
    X, y = digits
    clf = SoftmaxClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:100], y[:100])
    classes = np.arange(10)
    for i in range(0, len(X), 300):
        clf.partial_fit(X[i:i + 300], y[i:i + 300], classes=classes if i == 0 else None)
    assert clf.n_iter_ == -(-len(X) // 300) and clf.t_ > 0 and len(clf.loss_curve_) == 6
    coef = clf.coef_.copy()
    clf.partial_fit(X[:0], y[:0])   # an empty block is a no-op
    np.testing.assert_array_equal(clf.coef_, coef)
    clf.partial_fit(X[:50], y[:50], classes=classes)   # equal classes accepted
    with pytest.raises(ValueError, match="differs from the classes"):
        clf.partial_fit(X[:50], y[:50], classes=np.arange(11))
    with pytest.raises(ValueError, match=r"labels \[42\] not in classes"):
        clf.partial_fit(X[:3], np.array([1, 42, 2]))
    for _ in range(15):
        clf.partial_fit(X, y)
    assert clf.score(X, y) > 0.95


def test_binary_shapes_and_probabilities():
    X, y = load_iris(return_X_y=True)
    X, y = StandardScaler().fit_transform(X[y > 0]), np.where(y[y > 0] == 1, "a", "b")
    clf = SoftmaxClassifier(random_state=0).fit(X, y)
    assert clf.coef_.shape == (1, 4) and clf.intercept_.shape == (1,)
    assert clf.decision_function(X).shape == (len(X),)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("binary", [False, True])
def test_predict_proba_finite_for_huge_coefficients(binary):
    X, y = load_iris(return_X_y=True)
    if binary:
        X, y = X[y > 0], y[y > 0]
    clf = SoftmaxClassifier(random_state=0, max_iter=5, tol=None).fit(X, y)
    clf.coef_ = clf.coef_ * 1e305
    proba = clf.predict_proba(X)
    log_proba = clf.predict_log_proba(X)
    assert np.isfinite(proba).all() and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(1), 1)
    assert not np.isnan(log_proba).any()
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))


def test_divergence_raises_and_leaves_no_nan():
    X, y = load_digits(return_X_y=True)
    X = X * 1e150   # logits overflow to inf once the weights grow
    clf = SoftmaxClassifier(solver="sgd", eta0=1e6, momentum=0.9, alpha=0.0, random_state=0)
    with pytest.raises(TrainingDiverged, match=r"learning rate 1e\+06.*Lower eta0"):
        clf.fit(X, y)
    assert not hasattr(clf, "coef_")
    good = SoftmaxClassifier(random_state=0, max_iter=3, tol=None, eta0=1e-160).fit(X, y)
    coef = good.coef_.copy()
    good.set_params(solver="sgd", eta0=1e6, alpha=0.0)
    with pytest.raises(TrainingDiverged):
        good.partial_fit(X, y)
    np.testing.assert_array_equal(good.coef_, coef)   # unchanged by the failed call
    assert np.isfinite(good.coef_).all()


def test_early_stopping_keeps_the_best_validated_model(digits):
    X, y = digits
    clf = SoftmaxClassifier(early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                            random_state=0, max_iter=200).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.best_validation_score_ == max(clf.validation_scores_) > 0.9
    plain = SoftmaxClassifier(random_state=0, max_iter=3, tol=None).fit(X, y)
    assert plain.validation_scores_ is None and plain.best_validation_score_ is None


def test_adaptive_learning_rate_lowers_eta(digits):
    X, y = digits
    clf = SoftmaxClassifier(solver="sgd", learning_rate="adaptive", eta0=0.5, tol=1e-2,
                            n_iter_no_change=2, random_state=0, max_iter=60).fit(X, y)
    assert clf._solver_state.eta < 0.5


def test_class_weight_and_label_smoothing(digits):
    X, y = digits
    kw = dict(random_state=0, max_iter=20, tol=None)
    base = SoftmaxClassifier(**kw).fit(X, y)
    heavy = SoftmaxClassifier(class_weight={3: 50.0}, **kw).fit(X, y)
    assert np.mean(heavy.predict(X) == 3) > np.mean(base.predict(X) == 3)
    balanced = SoftmaxClassifier(class_weight="balanced", **kw).fit(X, y)
    assert balanced.score(X, y) > 0.95
    # class_weight multiplies sample_weight
    sw = np.where(y == 3, 50.0, 1.0)
    via_sw = SoftmaxClassifier(**kw).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(via_sw.coef_, heavy.coef_, rtol=1e-10, atol=1e-12)
    smooth = SoftmaxClassifier(label_smoothing=0.3, **kw).fit(X, y)
    assert smooth.predict_proba(X).max(1).mean() < base.predict_proba(X).max(1).mean()


def test_warm_start_continues(digits):
    X, y = digits
    clf = SoftmaxClassifier(random_state=0, max_iter=1, tol=None, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        losses_seen = [clf.fit(X, y).loss_curve_[-1] for _ in range(5)]
    assert losses_seen[-1] < losses_seen[0]
    cold = SoftmaxClassifier(random_state=0, max_iter=1, tol=None).fit(X, y)
    assert cold.loss_curve_[-1] > losses_seen[-1]


def test_convergence_warning_and_verbose(digits, capsys):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="Maximum number of epochs"):
        SoftmaxClassifier(solver="adam", max_iter=2, random_state=0).fit(X, y)
    SoftmaxClassifier(solver="adam", max_iter=2, tol=None, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert "-- Epoch 1: avg. loss" in out and "-- Epoch 2" in out


@pytest.mark.parametrize("params, match", [
    (dict(solver="newton"), "solver"),
    (dict(eta0=0.0), "eta0"),
    (dict(batch_size=0), "batch_size"),
    (dict(label_smoothing=1.5), "label_smoothing"),
    (dict(penalty="l3"), "penalty"),
    (dict(nesterov=True, solver="adam"), "nesterov"),
])
def test_bad_hyperparameters(params, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=match):
        SoftmaxClassifier(**params).fit(X, y)


def test_bad_input_messages():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="one class"):
        SoftmaxClassifier().fit(X[:40], y[:40])
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SoftmaxClassifier().fit(Xn, y)
    # scikit-learn >= 1.9 rejects all-zero weights itself ("non-zero"), 1.6-1.8 leave it to us
    with pytest.raises(ValueError, match="non-zero|sums to zero"):
        SoftmaxClassifier().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="Negative values"):
        SoftmaxClassifier().fit(X, y, sample_weight=-np.ones(len(y)))
    clf = SoftmaxClassifier(max_iter=2, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


def test_csr_with_mixed_index_dtypes(digits):
    X, y = digits
    A = sp.csr_matrix(X)
    B = sp.csr_matrix((A.data, A.indices.astype(np.int32), A.indptr.astype(np.int64)),
                      shape=A.shape)
    kw = dict(random_state=0, max_iter=2, tol=None)
    np.testing.assert_allclose(SoftmaxClassifier(**kw).fit(B, y).coef_,
                               SoftmaxClassifier(**kw).fit(A, y).coef_, rtol=1e-12)


def test_epoch_callback_sees_each_epoch_and_can_stop(digits):
    X, y = digits
    seen = []

    def callback(epoch, coef, intercept, objective):
        seen.append((epoch, coef.shape, intercept.shape, objective))
        return epoch == 4
    clf = SoftmaxClassifier(random_state=0, tol=None).fit(X, y, callback=callback)
    assert [s[0] for s in seen] == [1, 2, 3, 4] and clf.n_iter_ == 4
    assert seen[0][1] == (10, 64) and seen[0][2] == (10,)
    assert [s[3] for s in seen] == clf.loss_curve_


# --------------------------------------------------------------------------
# per-epoch averaging
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_whole_epochs_with_averaging_match_torch(dtype):
    """Two epochs in a fixed row order: the iterates follow a torch loop
    (F.cross_entropy + Adam with weight decay, intercept not decayed), and the
    model is the mean of the second epoch's iterates."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    n, d, K, B, alpha = 50, 6, 4, 8, 0.01
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, K, n)
    clf = SoftmaxClassifier(solver="adam", shuffle=False, batch_size=B, max_iter=2, tol=None, alpha=alpha,
                            eta0=0.05, average=True).fit(X, y)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    W = torch.zeros(d, K, dtype=tdtype, requires_grad=True)
    # a cold fit starts from the centred log class priors
    log_prior = np.log(np.bincount(y, minlength=K) / n)
    b = torch.tensor(log_prior - log_prior.mean(), dtype=tdtype, requires_grad=True)
    opt = torch.optim.Adam([{"params": [W], "weight_decay": alpha},
                            {"params": [b], "weight_decay": 0.0}], lr=0.05)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for epoch in range(2):
        iterates = []
        for s in range(0, n, B):
            opt.zero_grad()
            F.cross_entropy(Xt[s:s + B] @ W + b, yt[s:s + B]).backward()
            opt.step()
            iterates.append(torch.cat([W.detach().T.reshape(-1), b.detach()]).numpy().copy())
    mean = np.mean(np.array(iterates, dtype=np.float64), axis=0)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(clf.coef_.ravel(), mean[:d * K], rtol=tol, atol=tol)
    np.testing.assert_allclose(clf.intercept_, mean[d * K:], rtol=tol, atol=tol)
    # training goes on from the last iterate, not from the mean
    np.testing.assert_allclose(clf._solver_state.theta[:d * K],
                               W.detach().numpy().ravel(), rtol=tol, atol=tol)
    assert clf.coef_.dtype == dtype


@pytest.mark.parametrize("sparse", [False, True])
def test_loss_curve_is_the_objective_of_the_averaged_model(digits, sparse):
    X, y = digits
    sw = np.random.default_rng(0).uniform(0.5, 2, len(y))
    alpha = 1e-3
    Xv = sp.csr_matrix(X) if sparse else X
    clf = SoftmaxClassifier(solver="adam", random_state=0, max_iter=3, tol=None, alpha=alpha,
                            average=True).fit(Xv, y, sample_weight=sw)
    z = X @ clf.coef_.T + clf.intercept_
    expect = losses.cross_entropy(z, y, sample_weight=sw) + \
        0.5 * alpha * float(np.sum(clf.coef_ ** 2))
    assert clf.loss_curve_[-1] == pytest.approx(expect, rel=1e-12)
    # without averaging: the mean of the minibatch losses during the epoch
    # (those of the iterates before each step), larger early on
    plain = SoftmaxClassifier(solver="adam", random_state=0, max_iter=1, tol=None, alpha=alpha,
                              average=False).fit(Xv, y, sample_weight=sw)
    first = SoftmaxClassifier(solver="adam", random_state=0, max_iter=1, tol=None, alpha=alpha,
                              average=True).fit(Xv, y, sample_weight=sw)
    assert plain.loss_curve_[0] > first.loss_curve_[0]


def test_averaging_beats_the_last_iterate_on_noisy_data():
    """On a noisy problem the epoch mean is closer to the optimum than the
    last iterate of a constant step (what the average=True default is for)."""
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=20000, n_features=30, n_informative=20,
                               n_classes=5, flip_y=0.3, random_state=0)
    X = StandardScaler().fit_transform(X)
    kw = dict(random_state=0, max_iter=2, tol=None, learning_rate="constant")
    avg = SoftmaxClassifier(solver="adam", average=True, **kw).fit(X, y)
    last = SoftmaxClassifier(solver="adam", average=False, **kw).fit(X, y)
    ref = LogisticRegression(C=1 / (1e-4 * len(y)), max_iter=1000).fit(X, y)
    f = [_objective(m.coef_, m.intercept_, X, y, 1e-4) for m in (avg, last, ref)]
    assert f[0] - f[2] < 0.3 * (f[1] - f[2]), f


def test_partial_fit_with_averaging_continues_from_the_iterate(digits):
    X, y = digits
    classes = np.unique(y)
    a = SoftmaxClassifier(random_state=0, shuffle=False, average=True)
    b = SoftmaxClassifier(random_state=0, shuffle=False, average=False)
    for _ in range(3):
        a.partial_fit(X, y, classes=classes)
        b.partial_fit(X, y, classes=classes)
    # the same iterates: averaging only changes what is reported
    np.testing.assert_array_equal(a._solver_state.theta, b._solver_state.theta)
    assert not np.array_equal(a.coef_, b.coef_)
    # an edited coef_ is where the next call starts from
    a.coef_[:] = 0
    a.intercept_[:] = 0
    b.coef_[:] = 0
    b.intercept_[:] = 0
    a.partial_fit(X[:64], y[:64])
    b.partial_fit(X[:64], y[:64])
    np.testing.assert_array_equal(a._solver_state.theta, b._solver_state.theta)
    # switching averaging off reports the iterate from then on
    a.set_params(average=False).partial_fit(X[:64], y[:64])
    np.testing.assert_array_equal(a.coef_.T.ravel(),
                                  a._solver_state.theta[:a.coef_.size])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 3, 5, 10, 13, 26])
def test_small_output_products_match_blas(dtype, n_classes):
    """Dense batches with few outputs use skce's own products (src/dense.c):
    the same model as with BLAS's gemm, for every padding of the outputs, odd
    row and feature counts, C and Fortran order and in-place (shuffle=False)
    batches, with dW from per-block shares (batches of 3 row blocks, the
    last one short) or, when those would be too large, split by features."""
    rng = np.random.default_rng(n_classes)
    X = rng.standard_normal((403, 37)).astype(dtype)
    y = rng.integers(0, n_classes, len(X))
    y[:n_classes] = np.arange(n_classes)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    for Xv, shuffle in [(X, True), (np.asfortranarray(X), True), (X, False)]:
        kw = dict(random_state=0, max_iter=3, tol=None, batch_size=150, shuffle=shuffle)
        previous = _solver._set_small_k_max(0)
        try:
            ref = SoftmaxClassifier(**kw).fit(Xv, y)
        finally:
            _solver._set_small_k_max(previous)
        for partial_max in (None, 0):
            previous = None if partial_max is None else _solver._set_partial_max(partial_max)
            try:
                ours = SoftmaxClassifier(**kw).fit(Xv, y)
                # the same for any thread count (fixed blocks and splits)
                ours2 = SoftmaxClassifier(n_jobs=2, **kw).fit(Xv, y)
            finally:
                if previous is not None:
                    _solver._set_partial_max(previous)
            assert np.array_equal(ours.coef_, ours2.coef_)
            scale = np.abs(ref.coef_).max()
            np.testing.assert_allclose(ours.coef_, ref.coef_, atol=tol * scale, rtol=0)
            np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=tol * scale,
                                       rtol=0)
            assert ours.loss_curve_[-1] == pytest.approx(ref.loss_curve_[-1], rel=tol)
