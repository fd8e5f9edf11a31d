"""Smoke tests of the benchmark tools, so that they cannot rot:
benchmarks/compare.py --quick end to end (tiny sizes), and one small case of
every asv benchmark class (setup + one method)."""
import importlib
import inspect
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def asv_package(tmp_path_factory):
    """The asv suite (benchmarks/benchmarks) imported as the package `benchmarks`,
    in its fast profile."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SKCE_BENCH_PROFILE", "fast")
    mp.syspath_prepend(str(BENCH))
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        mp.delitem(sys.modules, name)
    pkg = importlib.import_module("benchmarks")
    assert Path(pkg.__file__).parent == BENCH / "benchmarks"
    common = importlib.import_module("benchmarks.common")
    # smaller still than the fast profile: this is a smoke test
    mp.setattr(common, "KERNEL_ROWS", 2_000)
    mp.setattr(common, "SYNTHETIC_ROWS", 2_000)
    mp.setattr(common, "REGRESSION_ROWS", 2_000)
    mp.setattr(common, "REAL_TRAIN_CAP", 1_000)
    mp.setattr(common, "NTXENT_ROWS", 64)
    yield pkg
    mp.undo()
    for name in [m for m in sys.modules if m == "benchmarks" or m.startswith("benchmarks.")]:
        sys.modules.pop(name, None)


def _asv_modules():
    return sorted(p.stem for p in (BENCH / "benchmarks").glob("bench_*.py"))


def _benchmark_classes(module):
    for name, cls in vars(module).items():
        if (inspect.isclass(cls) and not name.startswith("_")
                and cls.__module__ == module.__name__
                and any(m.startswith(("time_", "peakmem_", "track_", "mem_"))
                        for m in dir(cls))):
            yield name, cls


@pytest.mark.parametrize("module_name", _asv_modules())
def test_asv_benchmarks_run(asv_package, module_name, monkeypatch):
    module = importlib.import_module(f"benchmarks.{module_name}")
    common = importlib.import_module("benchmarks.common")
    # the estimator suites' setup_cache loads each data set once: keep it to digits
    # and the small regression set here
    if hasattr(module, "CLASSIFICATION_DATASETS"):
        monkeypatch.setattr(module, "CLASSIFICATION_DATASETS", ["digits"])
    for attr, value in vars(common).items():
        if attr.isupper() and hasattr(module, attr) and not attr.endswith("DATASETS"):
            monkeypatch.setattr(module, attr, value)
    classes = list(_benchmark_classes(module))
    assert classes, f"no benchmark classes in {module_name}"
    skipped = []
    for name, cls in classes:
        bench = cls()
        params = getattr(cls, "params", [])
        if params and not isinstance(params[0], list):
            params = [params]
        # first value of each parameter (digits for the classifiers), all threads
        case = [p[0] for p in params]
        if "dataset" in getattr(cls, "param_names", []):
            i = cls.param_names.index("dataset")
            case[i] = "digits" if "digits" in params[i] else params[i][0]
        args = []
        if hasattr(cls, "setup_cache"):
            args = [bench.setup_cache()]
        try:
            if hasattr(bench, "setup"):
                bench.setup(*args, *case)
        except NotImplementedError as exc:  # an estimator this skce lacks
            skipped.append(f"{name}: {exc}")
            continue
        methods = [m for m in dir(cls) if m.startswith(("time_", "peakmem_", "track_"))]
        for m in methods:
            result = getattr(bench, m)(*args, *case)
            if m.startswith("track_"):
                assert np.isfinite(result)
    if len(skipped) == len(classes):
        pytest.skip("; ".join(skipped))


def test_every_param_combination_is_named(asv_package):
    for module_name in _asv_modules():
        module = importlib.import_module(f"benchmarks.{module_name}")
        for name, cls in _benchmark_classes(module):
            params = getattr(cls, "params", None)
            if params:
                assert len(cls.param_names) == len(params), name
                assert len(list(itertools.product(*params))) >= 1


@pytest.mark.slow
def test_compare_quick(tmp_path, capsys):
    """compare.py --quick on one thread (2 threads on a loaded 2-core machine
    can take minutes; the thread ratio rows are not checked here)."""
    import skce
    from skce import SoftmaxClassifier

    sys.path.insert(0, str(BENCH))
    try:
        compare = importlib.import_module("compare")
    finally:
        sys.path.remove(str(BENCH))
    # tinier than --quick
    sizes = dict(compare.QUICK, kernel_rows=5_000, synthetic_rows=3_000, letter_cap=1_000,
                 regression_rows=2_000, peak_rows=5_000, max_epochs=5)
    compare.QUICK.clear()
    compare.QUICK.update(sizes)
    png = tmp_path / "acc.png"
    table = compare.main(["--quick", "--threads", "1", "--plot", str(png)])
    out = capsys.readouterr().out
    whos = {(r.task.split()[0], r.who) for r in table.rows}
    try:
        import torch  # noqa: F401
        has_torch = True
    except ImportError:
        has_torch = False
    for dt in ("float64", "float32"):
        task = next(r.task for r in table.rows if r.task.startswith("softmax CE")
                    and r.task.endswith(dt))
        rows = {r.who: r for r in table.task_rows(task)}
        assert "skce CE kernel (1 thread)" in rows
        assert "sklearn HalfMultinomialLoss kernel (1 thread)" in rows
        assert "skce cross_entropy (1 thread)" in rows
        assert "sklearn HalfMultinomialLoss (1 thread)" in rows
        assert "np.copyto floor (same array)" in rows
        assert any(w.startswith("torch") for w in rows) == has_torch
        assert all(r.time > 0 for r in rows.values())
    for prefix in ("hinge", "MSE", "synthetic", "make_regression", "epoch", "ratios", "fit"):
        assert any(t == prefix or t.startswith(prefix) for t, _ in whos), prefix
    assert ("synthetic", "sklearn LogisticRegression(lbfgs)") in whos
    assert ("synthetic", "sklearn SGDClassifier(log_loss)") in whos
    assert ("synthetic", "skce SoftmaxClassifier() fit") in whos
    assert ("synthetic:", "sklearn LinearSVC") in whos
    assert ("make_regression", "sklearn Ridge") in whos
    if "callback" in inspect.signature(SoftmaxClassifier.fit).parameters:
        assert any(w.startswith("skce to LR acc") for _, w in whos)
    if hasattr(skce, "LinearSVM"):
        assert ("synthetic:", "skce LinearSVM() fit") in whos
    if hasattr(skce, "LinearRegressor"):
        assert ("make_regression", "skce LinearRegressor() fit") in whos
    for ratio in ("skce CE kernel float64 / float32 time", "sklearn / skce CE kernel time float32",
                  "skce hinge kernel / copy floor float64", "skce MSE kernel / copy floor float32"):
        assert any(w == ratio for _, w in whos), ratio
    assert "peak RSS growth during fit (MB)" in {w for _, w in whos}
    assert "skce SoftmaxClassifier() fit" in out
    for r in table.rows:
        if r.score is not None:
            assert 0 < r.score <= 1
    try:
        import matplotlib  # noqa: F401
        assert png.exists() and png.stat().st_size > 0
    except ImportError:
        pass


def test_bench_ntxent_tiny(capsys):
    sys.path.insert(0, str(BENCH))
    try:
        bench = importlib.import_module("bench_ntxent")
        results = bench.main(["--sizes", "40x8", "--threads", "1", "--repeat", "1"])
    finally:
        sys.path.remove(str(BENCH))
    assert set(results) == {(40, 8, "float64", 1), (40, 8, "float32", 1)}
    assert all(t > 0 for t, _ in results.values())
    assert "torch/skce" in capsys.readouterr().out
