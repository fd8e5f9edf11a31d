"""show_config, thread-count resolution, and no hidden copies of the input."""
import io
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import skce
from skce import losses
from skce._config import effective_n_threads


def test_show_config_reports_build_and_runtime():
    buf = io.StringIO()
    skce.show_config(file=buf)
    text = buf.getvalue()
    assert f"skce {skce.__version__}" in text
    for field in ("OpenMP", "threads", "compiler", "kernel flags", "SIMD build", "SIMD in use"):
        assert field in text
    assert "-ffast-math" not in text


def test_effective_threads_honours_threadpoolctl():
    full = effective_n_threads()
    assert full >= 1
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads() == 1
    assert effective_n_threads() == full


def test_effective_threads_honours_omp_num_threads():
    code = "from skce._config import effective_n_threads; print(effective_n_threads())"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=os.path.dirname(__file__))
    assert out.stdout.strip() == "1"


def test_explicit_and_negative_thread_counts():
    assert effective_n_threads(3) == min(3, os.cpu_count())   # capped at the CPUs
    assert effective_n_threads(-1) == max(1, os.cpu_count())
    with pytest.raises(ValueError, match="n_threads"):
        effective_n_threads(0)
    with pytest.raises(TypeError, match="n_threads"):
        effective_n_threads(1.5)


def test_results_do_not_change_under_threadpool_limits():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30_000, 7))
    y = rng.integers(0, 7, 30_000)
    loss, grad = losses.cross_entropy(x, y, return_grad=True)
    with threadpool_limits(limits=1, user_api="openmp"):
        loss1, grad1 = losses.cross_entropy(x, y, return_grad=True)
    assert loss == loss1
    assert np.array_equal(grad, grad1)


@pytest.mark.parametrize("fn", [
    lambda x, y: losses.cross_entropy(x, y),
    lambda x, y: losses.multi_margin_loss(x, y),
    lambda x, y: losses.mse_loss(x, x),
])
def test_float32_input_is_neither_copied_nor_upcast(fn):
    """Peak extra memory of a reduced loss stays far below one copy of X."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400_000, 10)).astype(np.float32)   # 16 MB
    x_fortran = np.asfortranarray(x)
    y = rng.integers(0, 10, 400_000)
    for arr in (x, x_fortran):
        fn(arr, y)  # warm-up
        tracemalloc.start()
        fn(arr, y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < arr.nbytes / 8, f"peak {peak} bytes for a {arr.nbytes}-byte input"


def test_read_only_memmap_input(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 6))
    y = rng.integers(0, 6, 500)
    path = tmp_path / "x.dat"
    x.tofile(path)
    xm = np.memmap(path, dtype=np.float64, mode="r", shape=x.shape)
    loss_m, grad_m = losses.cross_entropy(xm, y, return_grad=True)
    loss, grad = losses.cross_entropy(x, y, return_grad=True)
    assert loss_m == loss
    assert np.array_equal(grad_m, grad)

