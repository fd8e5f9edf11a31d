"""TemperatureScaledClassifier: calibration of an over-confident model."""
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skce import SoftmaxClassifier, losses
from skce.calibration import TemperatureScaledClassifier


def expected_calibration_error(proba, y_idx, n_bins=15):
    conf = proba.max(1)
    correct = proba.argmax(1) == y_idx
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return ece


@pytest.fixture(scope="module")
def overconfident():
    """An unregularized model trained far past convergence on few, noisy rows."""
    X, y = make_classification(n_samples=4000, n_features=40, n_informative=10, n_classes=4,
                               flip_y=0.1, random_state=0)
    X_fit, X_rest, y_fit, y_rest = train_test_split(X, y, train_size=500, stratify=y,
                                                    random_state=0)
    X_cal, X_test, y_cal, y_test = train_test_split(X_rest, y_rest, test_size=0.5,
                                                    stratify=y_rest, random_state=0)
    model = SoftmaxClassifier(alpha=0.0, eta0=0.05, max_iter=300, tol=None,
                              random_state=0).fit(X_fit, y_fit)
    return model, X_cal, y_cal, X_test, y_test


def test_temperature_scaling_calibrates_an_overconfident_model(overconfident):
    model, X_cal, y_cal, X_test, y_test = overconfident
    ts = TemperatureScaledClassifier(model, prefit=True).fit(X_cal, y_cal)
    assert ts.temperature_ > 1.3           # over-confident: softened
    assert ts.nll_after_ < ts.nll_before_
    p0, p1 = model.predict_proba(X_test), ts.predict_proba(X_test)
    nll0 = losses.nll_loss(np.log(np.maximum(p0, 1e-300)), y_test)
    nll1 = losses.nll_loss(ts.predict_log_proba(X_test), y_test)
    assert nll1 <= nll0                    # held-out NLL not worse
    ece0, ece1 = expected_calibration_error(p0, y_test), expected_calibration_error(p1, y_test)
    assert ece1 < 0.6 * ece0, (ece0, ece1)
    np.testing.assert_array_equal(ts.predict(X_test), model.predict(X_test))
    np.testing.assert_array_equal(p1.argmax(1), p0.argmax(1))
    np.testing.assert_allclose(p1.sum(1), 1)
    np.testing.assert_allclose(np.exp(ts.predict_log_proba(X_test)), p1, rtol=1e-10)
    np.testing.assert_allclose(ts.decision_function(X_test),
                               model.decision_function(X_test) / ts.temperature_)


def test_temperature_is_the_nll_minimizer(overconfident):
    model, X_cal, y_cal, _, _ = overconfident
    ts = TemperatureScaledClassifier(model, prefit=True).fit(X_cal, y_cal)
    z = model.decision_function(X_cal)
    nll = [losses.cross_entropy(z / t, y_cal) for t in ts.temperature_ * np.array([0.9, 1, 1.1])]
    assert nll[1] < nll[0] and nll[1] < nll[2]


def test_fits_its_own_model_in_a_pipeline_and_pickles():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), TemperatureScaledClassifier(
        SoftmaxClassifier(random_state=0, max_iter=30, tol=None), random_state=0))
    pipe.fit(X, y)
    ts = pipe[-1]
    assert 0.01 <= ts.temperature_ <= 100 and ts.nll_after_ <= ts.nll_before_
    assert pipe.score(X, y) > 0.95
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict_proba(X), pipe.predict_proba(X))


def test_binary_and_other_classifiers():
    X, y = load_iris(return_X_y=True)
    X, y = StandardScaler().fit_transform(X[y > 0]), y[y > 0]
    ts = TemperatureScaledClassifier(LogisticRegression(C=1e4), random_state=0).fit(X, y)
    proba = ts.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_array_equal(ts.classes_[proba.argmax(1)], ts.predict(X))


def test_errors():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="temperature_bounds"):
        TemperatureScaledClassifier(temperature_bounds=(2.0, 1.0)).fit(X, y)
    model = SoftmaxClassifier(max_iter=5, tol=None).fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="labels the fitted estimator does not know"):
        TemperatureScaledClassifier(model, prefit=True).fit(X, y)
