"""numpydoc sections of the public API: every public function (skce.losses,
show_config, load_letter), every torch.nn-style module's call and every
public method of the estimators has Parameters (naming each argument) and
Returns; every estimator's and module's class docstring names each of its
constructor's parameters."""
import inspect

import pytest

import skce.datasets
import skce.losses
from skce import LinearRegressor, LinearSVM, SoftmaxClassifier
from skce.calibration import TemperatureScaledClassifier

try:
    import skce.dask as skd
    DASK_ESTIMATORS = [skd.SoftmaxClassifier, skd.LinearSVM, skd.LinearRegressor]
except ImportError:   # the dask extra is absent (as in the sanitizer venv of .ci/run)
    DASK_ESTIMATORS = []
ESTIMATORS = [SoftmaxClassifier, LinearSVM, LinearRegressor,
              TemperatureScaledClassifier] + DASK_ESTIMATORS
METHODS = ["fit", "partial_fit", "predict", "predict_proba", "predict_log_proba",
           "decision_function", "to_local"]
FUNCTIONS = [getattr(skce.losses, name) for name in skce.losses.__all__
             if inspect.isfunction(getattr(skce.losses, name))] + \
    [skce.show_config, skce.datasets.load_letter]
MODULES = [getattr(skce.losses, name) for name in skce.losses.__all__
           if inspect.isclass(getattr(skce.losses, name))]


def _section(doc, title):
    """The text of a numpydoc section (up to the next underlined title)."""
    lines = doc.splitlines()
    for i in range(len(lines) - 1):
        if lines[i].strip() == title and set(lines[i + 1].strip()) == {"-"}:
            body = []
            for j in range(i + 2, len(lines)):
                if j + 1 < len(lines) and lines[j + 1].strip() and \
                        set(lines[j + 1].strip()) == {"-"}:
                    break
                body.append(lines[j])
            return "\n".join(body)
    return None


def _documented_names(section):
    """Names on the unindented lines: "name : type", "a, b : type", or a
    comma-separated group of names spanning lines."""
    names = set()
    for line in section.splitlines():
        if line and not line[0].isspace():
            head = line.split(" : ")[0]
            names.update(n.strip() for n in head.split(","))
    return names


def _check(obj, skip=("self",)):
    doc = inspect.getdoc(obj) or ""
    params = [p for p in inspect.signature(obj).parameters if p not in skip]
    problems = []
    if params:
        section = _section(doc, "Parameters")
        if section is None:
            problems.append("no Parameters section")
        else:
            missing = [p for p in params if p not in _documented_names(section)]
            if missing:
                problems.append(f"parameters not documented: {missing}")
    if _section(doc, "Returns") is None:
        problems.append("no Returns section")
    return problems


def test_the_checker_catches_a_bare_docstring():
    def bare(x, y=1):
        """Does something."""

    def half(x, y=1):
        """Does something.

        Parameters
        ----------
        x : int

        Returns
        -------
        z : int
        """
    assert _check(bare) == ["no Parameters section", "no Returns section"]
    assert _check(half) == ["parameters not documented: ['y']"]


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_functions(function):
    assert _check(function) == []


@pytest.mark.parametrize("module", MODULES, ids=lambda c: c.__name__)
def test_torch_style_modules(module):
    assert _check(module.__call__) == []
    params = list(module._params)
    if params:
        section = _section(inspect.getdoc(module) or "", "Parameters")
        assert section is not None, f"{module.__name__} has no Parameters section"
        assert [p for p in params if p not in _documented_names(section)] == []


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_estimator_methods(cls, method):
    if not hasattr(cls, method):
        pytest.skip(f"{cls.__name__} has no {method}")
    assert _check(getattr(cls, method)) == []


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_estimators_document_every_parameter(cls):
    section = _section(inspect.getdoc(cls) or "", "Parameters")
    assert section is not None, f"{cls.__name__} has no Parameters section"
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    missing = [p for p in params if p not in _documented_names(section)]
    assert not missing, f"{cls.__name__}'s Parameters do not name {missing}"
