"""Build and runtime configuration: show_config() and thread-count resolution."""
import os
import platform
import sys
import warnings

from skce import _build_info
from skce._openmp_helpers import openmp_enabled, openmp_max_threads, simd_level
from skce.exceptions import ForkWarning

# Fork safety.  GNU libgomp keeps its thread pool across fork() but not the
# threads: a parallel region in the child waits for them forever.  So once
# this process has asked for more than one thread, a child forked from it
# (os.fork, multiprocessing's "fork" start method) runs every kernel on one
# thread, and says so once.  Spawned processes (multiprocessing "spawn" or
# "forkserver", joblib/loky workers) start afresh and keep their threads.
_threads_used = False   # this process asked OpenMP for more than one thread
_forked_child = False   # this process was forked after _threads_used
_fork_warned = False


def _after_fork_in_child():
    global _forked_child, _fork_warned
    _forked_child = _forked_child or _threads_used
    _fork_warned = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _single_threaded_in_fork_child():
    global _fork_warned
    if not _fork_warned:
        _fork_warned = True
        warnings.warn(
            "skce runs single-threaded in this process: it was forked (os.fork or "
            "multiprocessing's 'fork' start method) after skce had used OpenMP threads, and "
            "GNU OpenMP would hang starting threads in a forked child. For parallel kernels "
            "in worker processes use the 'spawn' or 'forkserver' start method, or joblib "
            "(loky) workers", ForkWarning, stacklevel=3)
    return 1


def effective_n_threads(n_threads=None, work=None, name="n_threads"):
    """Number of OpenMP threads the kernels will use.

    Parameters
    ----------
    n_threads : int or None
        None means what an OpenMP parallel region would get now, which
        honours OMP_NUM_THREADS and threadpoolctl.threadpool_limits; a
        negative value counts back from the number of CPUs (-1 = all), as in
        scikit-learn.
    work : int or None
        The number of independent work items (rows, blocks) of the call:
        never more threads than that.

    Returns
    -------
    int
        At least 1, at most the number of CPUs (more threads than cores
        only oversubscribe them, and tens of thousands fail to start) and at
        most `work`; 1 in a child forked after threads were used (see above).
    name : str
        The caller's parameter name (n_jobs for the estimators), for the error
        messages: this is the one check of a thread count.
    """
    global _threads_used
    if n_threads is not None:
        if isinstance(n_threads, bool) or not isinstance(n_threads, (int,)) and not (
            hasattr(n_threads, "__index__")
        ):
            raise TypeError(f"{name} must be None or an int; got {n_threads!r}")
        n_threads = int(n_threads)
        if n_threads == 0:
            raise ValueError(f"{name}=0 is not valid: use None (all available threads), "
                             "a positive count, or -1 for all CPUs")
    if not openmp_enabled():
        return 1
    n_cpus = os.cpu_count() or 1
    if n_threads is None:
        n_threads = openmp_max_threads()
    elif n_threads < 0:
        n_threads = n_cpus + n_threads + 1
    n_threads = max(1, min(n_threads, n_cpus))
    if work is not None:
        n_threads = max(1, min(n_threads, int(work)))
    if n_threads > 1:
        if _forked_child:
            return _single_threaded_in_fork_child()
        _threads_used = True
    return n_threads


def show_config(file=None):
    """Print the version, OpenMP state, thread count, compiler, flags and SIMD level.

    Parameters
    ----------
    file : file-like, default=None
        Where to print (None: sys.stdout).

    Returns
    -------
    None
    """
    file = sys.stdout if file is None else file
    lines = [
        f"skce {_build_info.VERSION}",
        f"python       {sys.version.split()[0]} ({platform.machine()}, {platform.system()})",
        f"OpenMP       {'enabled' if openmp_enabled() else 'disabled (kernels run on one thread)'}",
        f"threads      {effective_n_threads()} (n_threads=None; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"{os.cpu_count()} CPUs)",
        f"compiler     {_build_info.COMPILER} (buildtype={_build_info.BUILDTYPE})",
        f"kernel flags {_build_info.C_ARGS or '(none)'}",
        f"SIMD build   {_build_info.SIMD_BUILD}",
        f"SIMD in use  {simd_level()}",
    ]
    print("\n".join(lines), file=file)
