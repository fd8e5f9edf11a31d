"""Hardening (issue #15): malformed CSR structures, thread counts, fork
children, memory layouts, Ctrl-C inside an epoch, all-or-nothing fits and
the error messages of misuse.

Anything that could crash the interpreter (a bad CSR index read out of
bounds, 40,000 threads, a hang after fork) runs in a subprocess, so that a
segfault or a hang fails the test instead of killing pytest."""
import _thread
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits, make_classification, make_regression

from skce import LinearRegressor, LinearSVM, SoftmaxClassifier, losses
from skce import _validation
from skce._loss import LOSSES
from skce._solver import EpochSettings, LossSpec, OptimizerSpec, SolverState, _epoch, train
from skce.calibration import TemperatureScaledClassifier
from skce.exceptions import DataCopyWarning, TrainingDiverged

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# The layout fuzz runs derandomized (reproducible in CI); SKCE_FUZZ_SCALE=10
# runs ten times the examples, HYPOTHESIS_PROFILE=sanitizer (the slow debug /
# ASan build of .ci/run) a quarter.
FUZZ_SCALE = float(os.environ.get("SKCE_FUZZ_SCALE", "1"))
if os.environ.get("HYPOTHESIS_PROFILE") == "sanitizer":
    FUZZ_SCALE /= 4


def fuzz_settings(n):
    return settings(max_examples=max(5, int(n * FUZZ_SCALE)), deadline=None, derandomize=True,
                    database=None, suppress_health_check=list(HealthCheck),
                    phases=[Phase.explicit, Phase.generate, Phase.shrink])


def run_python(code, timeout=240):
    """Run `code` in a fresh interpreter; its last stdout line is JSON.  It runs
    outside the source tree, whose skce/ folder has no compiled modules."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, cwd=tempfile.gettempdir())
    assert proc.returncode == 0, (
        f"the subprocess died (return code {proc.returncode}: a negative one is a signal, "
        f"-11 a segfault)\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# malformed CSR structures: a ValueError naming the array, at every entry point
# ---------------------------------------------------------------------------

CSR_CASES = {
    # name: (code that breaks X (a valid 60 x 5 CSR), expected message)
    "index_too_large": ("X.indices[3] = 10**6", r"X.indices\[3\] = 1000000 is outside \[0, 5\)"),
    "index_negative": ("X.indices[7] = -7", r"X.indices\[7\] = -7 is outside \[0, 5\)"),
    "index_equal_n_cols": ("X.indices[0] = 5", r"X.indices\[0\] = 5 is outside"),
    "indptr_past_data": ("X.indptr[-1] = 10**7", r"indptr\[-1\] = 10000000 stored entries"),
    "indptr_past_data_i64": ("X.indptr = X.indptr.astype(np.int64); X.indptr[-1] += 1",
                             r"indptr\[-1\] = \d+ stored entries, more than"),
    "indptr_decreasing": ("X.indptr[10] = X.indptr[12] + 1", r"indptr decreases at position"),
    "indptr_start": ("X.indptr[0] = 1", r"indptr\[0\] is 1, not 0"),
    "indptr_short": ("X.indptr = X.indptr[:-5]", r"indptr has 56 entries, but its shape"),
    "index_dtype": ("X.indices = X.indices.astype(np.int16)", r"dtype int16.*int32 or int64"),
    "data_short": ("X.data = X.data[:10]", r"more than X.data \(10\)"),
}

ENTRY_POINTS = {
    "SoftmaxClassifier.fit": "SoftmaxClassifier(max_iter=1).fit(X, y)",
    "SoftmaxClassifier.partial_fit": "SoftmaxClassifier().partial_fit(X, y, classes=[0, 1, 2])",
    "SoftmaxClassifier.predict": "good_clf.predict(X)",
    "SoftmaxClassifier.predict_proba": "good_clf.predict_proba(X)",
    "SoftmaxClassifier.decision_function": "good_clf.decision_function(X)",
    "LinearSVM.fit": "LinearSVM(max_iter=1).fit(X, y)",
    "LinearSVM.decision_function": "good_svm.decision_function(X)",
    "LinearRegressor.fit": "LinearRegressor(max_iter=1).fit(X, y.astype(float))",
    "LinearRegressor.partial_fit": "LinearRegressor().partial_fit(X, y.astype(float))",
    "LinearRegressor.predict": "good_reg.predict(X)",
    "TemperatureScaledClassifier.fit":
        "TemperatureScaledClassifier(SoftmaxClassifier(max_iter=1)).fit(X, y)",
    "skce._solver.train": (
        "train(X, LossSpec.of(LOSSES['cross_entropy'], 3, y=y.astype(np.int64)), "
        "OptimizerSpec(), SolverState.new(5, 3, np.float64, 0.01), max_iter=1, "
        "random_state=np.random.RandomState(0))"),
}


@pytest.mark.slow
def test_malformed_csr_raises_at_every_entry_point():
    code = f"""
        import json, re, warnings
        warnings.simplefilter("ignore")
        import numpy as np, scipy.sparse as sp
        from skce import SoftmaxClassifier, LinearSVM, LinearRegressor
        from skce.calibration import TemperatureScaledClassifier
        from skce._loss import LOSSES
        from skce._solver import LossSpec, OptimizerSpec, SolverState, train
        rng = np.random.default_rng(0)
        dense = rng.random((60, 5)) * (rng.random((60, 5)) < 0.6)
        y = np.arange(60) % 3
        good_clf = SoftmaxClassifier(max_iter=1).fit(dense, y)
        good_svm = LinearSVM(max_iter=1).fit(dense, y)
        good_reg = LinearRegressor(max_iter=1).fit(dense, y.astype(float))
        cases, calls = {CSR_CASES!r}, {ENTRY_POINTS!r}
        out = {{}}
        for case, (breaker, match) in cases.items():
            for entry, call in calls.items():
                X = sp.csr_matrix(dense)
                exec(breaker)
                try:
                    exec(call)
                    out[case + " " + entry] = "no error"
                except (ValueError, TypeError) as exc:
                    ok = re.search(match, str(exc)) is not None
                    out[case + " " + entry] = "ok" if ok else f"{{type(exc).__name__}}: {{exc}}"
        print(json.dumps(out))
    """
    results = run_python(code)
    assert len(results) == len(CSR_CASES) * len(ENTRY_POINTS)
    bad = {k: v for k, v in results.items() if v != "ok"}
    assert not bad, bad


@pytest.mark.slow
def test_malformed_csc_and_coo_raise_before_scipy_converts_them():
    code = """
        import json
        import numpy as np, scipy.sparse as sp
        from skce import SoftmaxClassifier
        dense = np.random.default_rng(0).random((40, 4))
        y = np.arange(40) % 2
        out = []
        for fmt, breaker in [("csc", "X.indices[2] = 40"), ("csc", "X.indptr[-1] = 10**6"),
                             ("coo", "X.row[3] = 40"), ("coo", "X.col[0] = -1")]:
            X = sp.csr_matrix(dense).asformat(fmt)
            exec(breaker)
            try:
                SoftmaxClassifier(max_iter=1).fit(X, y)
                out.append("no error")
            except ValueError as exc:
                out.append(str(exc))
        print(json.dumps(out))
    """
    msgs = run_python(code)
    assert "X.indices[2] = 40 is outside [0, 40) (the number of rows)" in msgs[0]
    assert "X.indptr[-1] = 1000000 stored entries" in msgs[1]
    assert "not a valid COO matrix: X.row holds 40" in msgs[2]
    assert "not a valid COO matrix: X.col holds -1" in msgs[3]


def test_valid_csr_variants_still_train_as_the_dense_matrix():
    """The check refuses nothing valid: mixed index dtypes, unsorted and
    duplicate indices, data longer than nnz, empty rows."""
    rng = np.random.default_rng(1)
    dense = rng.random((50, 6)) * (rng.random((50, 6)) < 0.5)
    dense[4] = 0
    y = np.arange(50) % 2
    ref = SoftmaxClassifier(max_iter=2, tol=None, random_state=0).fit(dense, y).coef_
    X = sp.csr_matrix(dense)
    mixed = sp.csr_matrix(dense)
    mixed.indptr = mixed.indptr.astype(np.int64)   # indices stay int32
    longer = X.copy()   # arrays longer than nnz (scipy's constructor would prune them)
    longer.data, longer.indices = np.r_[X.data, 9.0, 9.0], np.r_[X.indices, 0, 0]
    for variant in (mixed, longer):
        coef = SoftmaxClassifier(max_iter=2, tol=None, random_state=0).fit(variant, y).coef_
        np.testing.assert_allclose(coef, ref, rtol=1e-12, atol=1e-15)
    _validation.check_sparse_structure(sp.csr_matrix((50, 6)))   # no entries at all


def test_csr_check_reports_the_first_failure():
    from skce._csr_check import INDEX_RANGE, INDPTR_DECREASING, OK, csr_check
    ip = np.array([0, 2, 2, 5], dtype=np.int64)
    idx = np.array([0, 3, 1, 2, 3], dtype=np.int64)
    assert csr_check(ip, idx, 4, 5) == (OK, 0)
    assert csr_check(ip, idx, 3, 5) == (INDEX_RANGE, 1)
    assert csr_check(np.array([0, 3, 2, 5], np.int32), idx.astype(np.int32), 4, 5) == \
        (INDPTR_DECREASING, 1)


# ---------------------------------------------------------------------------
# thread counts: capped at the CPUs and the work
# ---------------------------------------------------------------------------

@pytest.mark.slow
def test_huge_thread_counts_work_and_match_one_thread():
    code = """
        import json, numpy as np
        from skce import losses, SoftmaxClassifier
        rng = np.random.default_rng(0)
        x = rng.standard_normal((3000, 7)); t = rng.integers(0, 7, 3000)
        y = rng.standard_normal((3000, 7))
        calls = {
            "cross_entropy": lambda n: losses.cross_entropy(x, t, n_threads=n, return_grad=True),
            "softmax": lambda n: losses.softmax(x, n_threads=n),
            "multi_margin": lambda n: losses.multi_margin_loss(x, t, n_threads=n,
                                                               return_grad=True),
            "mse": lambda n: losses.mse_loss(x, y, n_threads=n, return_grad=True),
            "nt_xent": lambda n: losses.nt_xent(x[:100], y[:100], n_threads=n),
            "fit": lambda n: SoftmaxClassifier(max_iter=2, tol=None, random_state=0,
                                               n_jobs=n).fit(x, t).coef_,
        }
        def flat(r):
            r = r if isinstance(r, tuple) else (r,)
            return [np.asarray(v).tobytes().hex() for v in r]
        print(json.dumps({k: flat(f(40_000)) == flat(f(1)) for k, f in calls.items()}))
    """
    assert run_python(code) == dict.fromkeys(
        ["cross_entropy", "softmax", "multi_margin", "mse", "nt_xent", "fit"], True)


def test_effective_n_threads_caps():
    from skce._config import effective_n_threads
    n_cpus = os.cpu_count()
    assert effective_n_threads(40_000) == min(40_000, n_cpus)
    assert effective_n_threads(10**30) == n_cpus
    assert effective_n_threads(-40_000) == 1
    assert effective_n_threads(None, work=1) == 1
    assert effective_n_threads(8, work=3) == min(3, n_cpus)


# ---------------------------------------------------------------------------
# fork: a child of a process that used OpenMP threads finishes (one thread)
# ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_multithreaded_call_in_a_fork_child_finishes():
    code = """
        import json, os, signal, warnings
        import numpy as np
        from skce import losses, SoftmaxClassifier
        from skce._config import effective_n_threads
        x = np.random.default_rng(0).standard_normal((400_000, 8)); t = np.zeros(400_000, int)
        before = losses.cross_entropy(x, t, n_threads=2)      # starts the OpenMP pool
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)      # a hang ends the child (SIGALRM), not the test run
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                after = losses.cross_entropy(x, t, n_threads=2)
                SoftmaxClassifier(max_iter=1, n_jobs=2).fit(x[:5000], np.arange(5000) % 2)
                losses.cross_entropy(x, t, n_threads=2)
            fork_warnings = [str(c.message) for c in caught if "forked" in str(c.message)]
            os.write(w, json.dumps({"same": after == before, "threads": effective_n_threads(2),
                                    "warnings": fork_warnings}).encode())
            os._exit(0)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        child = json.loads(os.read(r, 100_000) or b"{}")
        print(json.dumps({"status": status, **child}))
    """
    out = run_python(code, timeout=120)
    assert out["status"] == 0, "the forked child hung (SIGALRM) or crashed"
    assert out["same"] and out["threads"] == 1
    assert len(out["warnings"]) == 1, "one warning per child"
    assert "single-threaded" in out["warnings"][0] and "spawn" in out["warnings"][0]


# ---------------------------------------------------------------------------
# memory layouts
# ---------------------------------------------------------------------------

def strided_copy(values, perm, steps, pads, signs, misalign):
    """An array equal to `values` laid out in a byte buffer: axes in memory
    order `perm` (innermost first), every `steps[a]`-th slot of axis a used,
    `pads[a]` extra bytes after axis a (in the stride of the next outer
    axis; not a multiple of the item size when odd), axes with signs[a] < 0
    reversed, and the data starting `misalign` bytes past an aligned
    address."""
    values = np.asarray(values)
    item = values.itemsize
    strides = [0] * values.ndim
    running = item
    for a in perm:
        strides[a] = running * steps[a]
        running = strides[a] * max(values.shape[a], 1) + pads[a]
    strides = [s if sg > 0 else -s for s, sg in zip(strides, signs)]
    lo = sum(min(0, (n - 1) * s) for n, s in zip(values.shape, strides) if n)
    hi = sum(max(0, (n - 1) * s) for n, s in zip(values.shape, strides) if n)
    buf = np.zeros(hi - lo + item + misalign + 16, dtype=np.uint8)
    start = (-buf.ctypes.data) % 16 + misalign     # from an aligned address
    view = np.ndarray(values.shape, values.dtype, buffer=buf, offset=start - lo,
                      strides=strides)
    view[...] = values
    return view


@st.composite
def layouts(draw, ndim):
    perm = draw(st.permutations(range(ndim)))
    steps = draw(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=ndim, max_size=ndim))
    pads = draw(st.lists(st.sampled_from([0, 0, 1, 3, 8]), min_size=ndim, max_size=ndim))
    signs = draw(st.lists(st.sampled_from([1, 1, -1]), min_size=ndim, max_size=ndim))
    misalign = draw(st.sampled_from([0, 0, 1, 4]))
    return dict(perm=list(perm), steps=steps, pads=pads, signs=signs, misalign=misalign)


def test_strided_copy_builds_the_layouts_it_claims():
    v = np.arange(12.0).reshape(3, 4)
    a = strided_copy(v, [1, 0], [1, 2], [0, 3], [-1, 1], 1)   # pad after the inner axis
    np.testing.assert_array_equal(a, v)
    assert a.strides[0] < 0 and a.strides[0] % 8 and not a.flags.aligned


@fuzz_settings(150)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       which=st.sampled_from(["ce_index", "ce_prob", "nll", "mse", "huber", "bce", "hinge",
                              "multi_margin", "softmax_dim0", "nt_xent"]),
       n=st.integers(1, 9), c=st.integers(1, 6), seed=st.integers(0, 2**16))
@pytest.mark.slow
def test_loss_layouts_match_contiguous(data, dtype, which, n, c, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)).astype(dtype)
    xv = strided_copy(x, **data.draw(layouts(2)))
    t = rng.integers(0, c, n)
    tv = strided_copy(t, **data.draw(layouts(1)))
    y = rng.random((n, c)).astype(dtype)
    yv = strided_copy(y, **data.draw(layouts(2)))
    labels = np.where(y > 0.5, 1, -1).astype(dtype)
    labels_v = strided_copy(labels, **data.draw(layouts(2)))
    sw = rng.random(n)
    swv = strided_copy(sw, **data.draw(layouts(1)))
    calls = {
        "ce_index": lambda x, t, y, lab, w: losses.cross_entropy(x, t, sample_weight=w,
                                                                 return_grad=True),
        "ce_prob": lambda x, t, y, lab, w: losses.cross_entropy(x, y, return_grad=True),
        "nll": lambda x, t, y, lab, w: losses.nll_loss(x, t, reduction="sum",
                                                       return_grad=True),
        "mse": lambda x, t, y, lab, w: losses.mse_loss(x, y, sample_weight=w,
                                                       return_grad=True),
        "huber": lambda x, t, y, lab, w: losses.huber_loss(x, y, reduction="none",
                                                           return_grad=True),
        "bce": lambda x, t, y, lab, w: losses.binary_cross_entropy_with_logits(
            x, y, weight=y, return_grad=True),
        "hinge": lambda x, t, y, lab, w: losses.hinge_loss(x, lab, return_grad=True),
        "multi_margin": lambda x, t, y, lab, w: losses.multi_margin_loss(
            x, t, sample_weight=w, return_grad=True),
        "softmax_dim0": lambda x, t, y, lab, w: losses.log_softmax(x, dim=0),
        "nt_xent": lambda x, t, y, lab, w: losses.nt_xent(x, y, return_grad=True),
    }
    f = calls[which]
    ref = _flat(f(x, t, y, labels, sw))
    got = _flat(f(xv, tv, yv, labels_v, swv))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _flat(r):
    out = []
    for v in (r if isinstance(r, tuple) else (r,)):
        out.extend(_flat(v) if isinstance(v, tuple) else [np.asarray(v, dtype=np.float64)])
    return out


@pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")
@fuzz_settings(40)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       est=st.sampled_from(["softmax", "softmax_many", "svm", "regressor"]),
       n=st.integers(12, 40), d=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_estimator_layouts_match_contiguous(data, dtype, est, n, d, seed):
    """fit and predict on any layout of X (and of y, sample_weight) equal
    those on a contiguous copy.  softmax_many has 30 classes: the BLAS path
    of the epoch (where a reversed X used to reach BLAS with a wrong lda)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    Xv = strided_copy(X, **data.draw(layouts(2)))
    sw = rng.random(n) + 0.1
    swv = strided_copy(sw, **data.draw(layouts(1)))
    kw = dict(max_iter=2, tol=None, random_state=0, batch_size=8)
    if est == "regressor":
        y = rng.standard_normal((n, 2))
        model = LinearRegressor(**kw)
    else:
        k = 30 if est == "softmax_many" else 3
        y = np.arange(n) % k
        model = SoftmaxClassifier(**kw) if est.startswith("softmax") else LinearSVM(**kw)
    yv = strided_copy(y, **data.draw(layouts(y.ndim)))
    ref = model.fit(X, y, sample_weight=sw)
    ref_coef, ref_pred = ref.coef_.copy(), ref.predict(X)
    got = model.fit(Xv, yv, sample_weight=swv)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got.coef_, ref_coef, rtol=tol, atol=tol)
    np.testing.assert_allclose(got.predict(Xv), ref_pred, rtol=tol, atol=tol)


def test_reversed_view_with_many_outputs_fits_as_its_copy():
    """The audit's case: X[::-1] on the BLAS path gave R^2 ~ 0."""
    X, Y = make_regression(3000, 20, n_targets=30, random_state=0)
    Xr = np.ascontiguousarray(X[::-1])[::-1]            # == X, negative row stride
    # (the minibatch epoch of the audit; the default lbfgs fit reads a reversed X
    # through BLAS and its copy through the fused pass: equal to rounding only)
    kw = dict(solver="sgd", random_state=0, max_iter=5, shuffle=False, tol=None)
    a = LinearRegressor(**kw).fit(X, Y)
    b = LinearRegressor(**kw).fit(Xr, Y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert b.score(X, Y) > 0.9   # was ~0 (R^2 of a model that learnt nothing)


def test_large_copy_is_announced_with_its_size(monkeypatch):
    monkeypatch.setattr(_validation, "COPY_WARN_BYTES", 1000)
    X = np.random.default_rng(0).standard_normal((400, 5)).astype(np.float32)
    y = np.arange(400) % 3
    with pytest.warns(DataCopyWarning, match=r"X \(float32, shape \(400, 5\)\) cannot be read "
                                             r"in place.*copied 8,000 bytes.*ascontiguousarray"):
        SoftmaxClassifier(solver="adam", max_iter=1).fit(X[::-1], y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataCopyWarning)
        SoftmaxClassifier(solver="adam", max_iter=1).fit(np.asfortranarray(X), y)   # readable: no copy
        SoftmaxClassifier(solver="adam", max_iter=1).fit(X[::2], y[::2])
        losses.cross_entropy(X[:, :3:2], y % 2)


# ---------------------------------------------------------------------------
# Ctrl-C inside the compiled epoch
# ---------------------------------------------------------------------------

def _interrupt_soon(delay=0.3):
    timer = threading.Timer(delay, _thread.interrupt_main)
    timer.start()
    return timer


def _long_epoch_problem(sparse):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 20))
    X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3)) if sparse else X
    y = rng.integers(0, 5, 2000)
    order = np.tile(np.arange(2000, dtype=np.int64), 5000)   # 10**7 one-row batches
    return X, y, order


@pytest.mark.parametrize("sparse", [False, True])
def test_epoch_stops_between_batches_on_ctrl_c(sparse):
    X, y, order = _long_epoch_problem(sparse)
    state = SolverState.new(20, 5, np.float64, 0.01)
    s = EpochSettings(LossSpec.of(LOSSES["cross_entropy"], 5, y=y.astype(np.int64)),
                      OptimizerSpec(), state)
    timer = _interrupt_soon()
    try:
        if sparse:
            out = _epoch.epoch_csr(s, X.data, X.indices, X.indptr, 20, order, 1)
        else:
            out = _epoch.epoch_dense(s, X, order, 1)
    finally:
        timer.cancel()
    total, weight, status, info = out
    assert status == _epoch.INTERRUPTED
    assert isinstance(info, KeyboardInterrupt)
    assert 0 < s.step < len(order), "the epoch stopped between two of its batches"


@pytest.mark.parametrize("sparse", [False, True])
def test_ctrl_c_in_train_restores_the_state(sparse):
    X, y, order = _long_epoch_problem(sparse)
    state = SolverState.new(20, 5, np.float64, 0.01)
    state.theta[:] = np.random.default_rng(1).standard_normal(state.theta.shape)
    before = state.copy()
    timer = _interrupt_soon()
    with pytest.raises(KeyboardInterrupt):
        try:
            train(X, LossSpec.of(LOSSES["cross_entropy"], 5, y=y.astype(np.int64)),
                  OptimizerSpec(), state, train_rows=order, batch_size=1, max_iter=1,
                  shuffle=False)
        finally:
            timer.cancel()
    for a, b in zip(state._arrays(), before._arrays()):
        if a is not None:
            np.testing.assert_array_equal(a, b)
    assert state.step == before.step


def test_ctrl_c_during_fit_leaves_the_previous_fit():
    X, y = make_classification(60_000, 40, n_informative=20, n_classes=4, random_state=0)
    clf = SoftmaxClassifier(solver="adam", max_iter=1, random_state=0, batch_size=1).fit(X[:500], y[:500])
    clf.set_params(max_iter=1000, tol=None, warm_start=True)
    snap = _snapshot(clf)
    timer = _interrupt_soon(0.5)
    with pytest.raises(KeyboardInterrupt):
        try:
            clf.fit(X, y)
        finally:
            timer.cancel()
    _assert_same(clf, snap)


# ---------------------------------------------------------------------------
# all-or-nothing fits
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _snapshot(est):
    return {k: (np.copy(v) if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}


def _assert_same(est, snap):
    assert vars(est).keys() == snap.keys()
    for k, v in snap.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(getattr(est, k), v, err_msg=k)
        elif not hasattr(v, "__dict__"):
            assert getattr(est, k) == v, k


def test_failed_fit_keeps_linear_svm_alpha(digits):
    X, y = digits
    svm = LinearSVM(max_iter=2, random_state=0).fit(X, y)
    svm.set_params(eta0=1e300, solver="sgd")
    snap = _snapshot(svm)
    with pytest.raises(TrainingDiverged):   # after alpha_ = 1 / (C * 300) was computed
        svm.fit(X[:300] * 1e150, y[:300])
    _assert_same(svm, snap)
    assert svm.alpha_ == 1 / len(y)


def test_failed_partial_fit_does_not_advance_the_shuffle_stream(digits):
    X, y = digits
    kw = dict(random_state=0, tol=None)
    a = SoftmaxClassifier(**kw).partial_fit(X, y, classes=np.arange(10))
    b = SoftmaxClassifier(**kw).partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(TrainingDiverged):
        a.set_params(eta0=1e306, solver="sgd").partial_fit(X, y)
    a.set_params(eta0=None, solver="adam")
    np.testing.assert_array_equal(a.partial_fit(X, y).coef_, b.partial_fit(X, y).coef_)


def test_interrupt_while_storing_the_result_changes_nothing(digits, monkeypatch):
    X, y = digits
    for est in (SoftmaxClassifier(max_iter=2, random_state=0),
                LinearRegressor(max_iter=2, random_state=0)):
        target = y.astype(float) if isinstance(est, LinearRegressor) else y
        est.fit(X, target)
        snap = _snapshot(est)

        def boom(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(type(est), "_coef_attrs", boom)
        for call in (lambda: est.fit(X, target), lambda: est.partial_fit(X, target)):
            with pytest.raises(KeyboardInterrupt):
                call()
            _assert_same(est, snap)
        monkeypatch.undo()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("average", [True, False])
def test_adam_huge_eta0_never_ends_in_an_overflowed_model(digits, dtype, average):
    """Finite batch losses but overflowing weights: the objective (with the
    penalty) became inf and loss_curve_ said so, with no error."""
    X, y = digits
    eta0 = 1e20 if dtype == np.float32 else 1e200
    clf = SoftmaxClassifier(solver="adam", eta0=eta0, max_iter=3, random_state=0, average=average, tol=None)
    with pytest.raises(TrainingDiverged, match=r"solver='adam'"):
        clf.fit(X.astype(dtype), y)
    assert not hasattr(clf, "coef_")


# ---------------------------------------------------------------------------
# error messages: the cause and what to do
# ---------------------------------------------------------------------------

def test_training_diverged_names_the_solver_and_the_feature_scale(digits):
    X, y = digits
    big = X * 1e150
    with pytest.raises(TrainingDiverged) as info:
        SoftmaxClassifier(solver="sgd", eta0=1e6, max_iter=3, random_state=0).fit(big, y)
    msg = str(info.value)
    assert "solver='sgd'" in msg and "use solver='adam'" in msg
    assert re.search(r"feature \d+ reaches \|x\| = 1e\+150", msg)
    with pytest.raises(TrainingDiverged) as info:
        SoftmaxClassifier(solver="adam", eta0=1e306, max_iter=3, random_state=0).fit(X, y)
    msg = str(info.value)
    assert "solver='adam'" in msg and "use solver='adam'" not in msg
    assert "Lower eta0" in msg and "learning rate 1e+306" in msg and "reaches |x|" not in msg


@pytest.mark.parametrize("call, exc, match", [
    (lambda X, y: LinearRegressor(max_iter=1, random_state=0).fit(
        X, sp.csr_matrix(y.reshape(-1, 1))), None, None),
    (lambda X, y: SoftmaxClassifier(max_iter=1).fit(X, sp.csr_matrix(y.reshape(-1, 1))),
     ValueError, r"y must be a 1-D array of labels; got a sparse matrix.*toarray"),
    (lambda X, y: SoftmaxClassifier(max_iter=1).fit(X, np.array([1, "a"] * 25, dtype=object)),
     TypeError, r"y mixes labels of types \['int', 'str'\].*one type"),
    (lambda X, y: SoftmaxClassifier(max_iter=1).partial_fit(
        X, [1] * 50, classes=np.array([1, "a"], dtype=object)),
     TypeError, r"classes mixes labels of types"),
    (lambda X, y: SoftmaxClassifier(max_iter=1).fit(X, [2**70, 1] * 25),
     ValueError, r"integer labels beyond the int64 range \(e.g. 1180591620717411303424\)"),
    (lambda X, y: SoftmaxClassifier(max_iter=1, eta0=10**400).fit(X, y),
     ValueError, r"eta0 is an integer of 1329 bits, beyond float64's range"),
    (lambda X, y: LinearSVM(max_iter=1, C=10**400).fit(X, y), ValueError, r"C is an integer"),
    (lambda X, y: SoftmaxClassifier(max_iter=1).fit(X, y, sample_weight=[10**400] * 50),
     ValueError, r"sample_weight holds an integer too large"),
    (lambda X, y: SoftmaxClassifier(max_iter=1, class_weight={0: 10**400}).fit(X, y),
     ValueError, r"class_weight must map classes to finite"),
    (lambda X, y: LinearRegressor(max_iter=1).fit(X, [10**400] * 50),
     ValueError, r"integer too large for float64"),
    (lambda X, y: losses.cross_entropy(X, np.array([0, 1, 2] * 16 + [0, 2**63 + 5],
                                                   dtype=np.uint64)),
     ValueError, r"class index 9223372036854775813, far outside"),
    (lambda X, y: losses.multi_margin_loss(X, np.full(50, 2**64 - 1, np.uint64)),
     ValueError, r"class index 18446744073709551615"),
    (lambda X, y: losses.cross_entropy(X, y, ignore_index=2**70),
     ValueError, r"ignore_index=.*int64 range"),
    (lambda X, y: losses.huber_loss(X, X, delta=10**400),
     ValueError, r"delta must be finite; got an integer of 1329 bits"),
    (lambda X, y: losses.nt_xent(X, X, temperature=10**400), ValueError, r"temperature must"),
])
def test_unclear_errors_are_clear(call, exc, match):
    rng = np.random.default_rng(0)
    X = rng.random((50, 3))
    y = np.arange(50) % 3
    if exc is None:   # sparse y for a regressor: densified (its targets are small)
        est = call(X, y.astype(float))
        ref = LinearRegressor(max_iter=1, random_state=0).fit(X, y.astype(float).reshape(-1, 1))
        np.testing.assert_array_equal(est.coef_, ref.coef_)
        return
    with pytest.raises(exc, match=match):
        call(X, y)


# ---------------------------------------------------------------------------
# temperature scaling with very wide bounds
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("bounds", [(1e-2, 1e2), (1e-100, 1e100), (1e-300, 1e300),
                                    (1e-3, 1e12)])
def test_temperature_with_wide_bounds_is_the_nll_minimizer(digits, bounds):
    from scipy.optimize import minimize_scalar
    X, y = digits
    est = SoftmaxClassifier(max_iter=5, random_state=0).fit(X[:1200], y[:1200])
    Xc, yc = X[1200:], y[1200:]
    cal = TemperatureScaledClassifier(est, prefit=True, temperature_bounds=bounds).fit(Xc, yc)
    # oracle: scipy's bounded search on a bracket around a dense grid minimum
    z = est.decision_function(Xc)
    nll = lambda t: losses.cross_entropy(z / t, yc)   # noqa: E731
    grid = np.geomspace(1e-2, 1e2, 401)
    t0 = grid[np.argmin([nll(t) for t in grid])]
    ref = minimize_scalar(nll, bounds=(t0 / 1.05, t0 * 1.05), method="bounded",
                          options={"xatol": 1e-10}).x
    assert cal.temperature_ != 1.0
    np.testing.assert_allclose(cal.temperature_, ref, rtol=1e-5)
    assert cal.nll_after_ < cal.nll_before_
