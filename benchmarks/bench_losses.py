"""Side-by-side timing of the softmax cross-entropy loss + gradient.

    python benchmarks/bench_losses.py [--n 1000000] [--classes 10] [--threads 2] [--repeat 15]

One run prints, for float64 and float32 logits of shape (n, C), the median
time of each contender and its ratio to skce's:
  kernel rows (outputs preallocated, so only the kernels are compared):
    skce        the cross-entropy kernel behind skce.losses.cross_entropy
    sklearn     HalfMultinomialLoss().loss_gradient(y, x, loss_out=, gradient_out=, n_threads=T)
    copy        np.copyto of an array of the same size: the memory-traffic floor
  API rows (each allocates its outputs, as a user's call does):
    skce        cross_entropy(x, y, return_grad=True, n_threads=T)
    sklearn     HalfMultinomialLoss().loss_gradient(y, x, n_threads=T)
    torch       F.cross_entropy forward + backward (torch.set_num_threads(T)), if installed
Then, for the elementwise kernels (BCE with logits, MSE, Huber, hinge) on the
same number of elements, the kernel's median time (gradient into a
preallocated array, reduction='mean') and its ratio to the copy floor (the
kernels read two arrays and write one, the copy one and one).
"""
import argparse
import time

import numpy as np


def median_time(fn, repeat):
    # warm-up: lazy imports, thread pools, first-touch page faults; fast calls
    # are repeated for 0.5 s (at most 10 calls): after start, the first
    # allocations of large outputs stall in the kernel's huge-page compaction
    # (numpy madvises them; 60-130 ms instead of 21 ms for the first 5 calls
    # of a 2-thread CE with an 80 MB gradient)
    t0 = time.perf_counter()
    for _ in range(10):
        fn()
        if time.perf_counter() - t0 > 0.5:
            break
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def ce_kernel(x, y, grad, n_threads):
    """skce's softmax-CE kernel ('mean', class-index targets) on (n, C) logits
    x, gradient into the preallocated grad: no allocation, no validation."""
    from skce._loss import _softmax

    n = x.shape[0]
    return _softmax.class_loss(_softmax.CE_INDEX, x[:, :, None], y.reshape(n, 1), None, None,
                               None, -100, 0.0, 1.0 / n, None, grad[:, :, None], n_threads)


def elementwise_kernel(kind, x, target, grad, n_threads):
    """skce's elementwise loss kernel `kind` ('mean') on (n, 1, L) arrays,
    gradient into the preallocated grad."""
    from skce._loss import _elementwise

    return _elementwise.elementwise(kind, x, target, None, None, None, 1.0 / x.size, 1.0, 1.0,
                                    False, None, grad, n_threads)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)

    from sklearn._loss.loss import HalfMultinomialLoss

    from skce import losses, show_config

    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        torch = None

    show_config()
    n, C, T = args.n, args.classes, args.threads
    print(f"\nsoftmax cross-entropy loss + gradient, {n} x {C} logits, {T} threads, "
          f"median of {args.repeat}\n")
    rng = np.random.default_rng(0)
    header = f"{'dtype':8} {'kind':6} {'who':8} {'time ms':>9} {'ratio to skce':>14}"
    print(header)
    print("-" * len(header))
    results = {}
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((n, C)).astype(dtype)
        y = rng.integers(0, C, n)
        y_float = y.astype(dtype)
        sk_loss = HalfMultinomialLoss(n_classes=C)
        grad = np.empty_like(x)
        loss_rows = np.empty(n, dtype=dtype)
        kernel, api = {}, {}
        # kernels into preallocated outputs
        kernel["skce"] = median_time(lambda: ce_kernel(x, y, grad, T), args.repeat)
        kernel["sklearn"] = median_time(lambda: sk_loss.loss_gradient(
            y_float, x, loss_out=loss_rows, gradient_out=grad, n_threads=T), args.repeat)
        dst = np.empty_like(x)
        kernel["copy"] = median_time(lambda: np.copyto(dst, x), args.repeat)
        # public calls, allocating
        api["skce"] = median_time(
            lambda: losses.cross_entropy(x, y, return_grad=True, n_threads=T), args.repeat)
        api["sklearn"] = median_time(
            lambda: sk_loss.loss_gradient(y_float, x, n_threads=T), args.repeat)
        if torch is not None:
            torch.set_num_threads(T)
            xt = torch.from_numpy(x)
            yt = torch.from_numpy(y)

            def torch_fwd_bwd():
                xr = xt.detach().requires_grad_(True)
                F.cross_entropy(xr, yt).backward()
                return xr.grad

            api["torch"] = median_time(torch_fwd_bwd, args.repeat)
        for kind, rows in (("kernel", kernel), ("API", api)):
            for name, t in rows.items():
                print(f"{np.dtype(dtype).name:8} {kind:6} {name:8} {t * 1e3:9.2f} "
                      f"{t / rows['skce']:14.2f}")
        results[np.dtype(dtype).name] = (kernel, api)
    from skce._loss import _elementwise

    print(f"\nelementwise loss + gradient kernels, {n * C} elements, {T} threads, "
          f"median of {args.repeat}\n")
    header = f"{'dtype':8} {'kernel':8} {'time ms':>9} {'ratio to copy':>14}"
    print(header)
    print("-" * len(header))
    ew_results = {}
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal((n, 1, C)).astype(dtype)
        targets = {
            "bce": rng.random((n, 1, C)).astype(dtype),
            "mse": rng.standard_normal((n, 1, C)).astype(dtype),
            "huber": rng.standard_normal((n, 1, C)).astype(dtype),
            "hinge": np.where(rng.random((n, 1, C)) < 0.5, -1.0, 1.0).astype(dtype),
        }
        kinds = {"bce": _elementwise.BCE, "mse": _elementwise.MSE,
                 "huber": _elementwise.HUBER, "hinge": _elementwise.HINGE}
        grad = np.empty_like(x)
        dst = np.empty_like(x)
        copy = median_time(lambda: np.copyto(dst, x), args.repeat)
        rows = {}
        for name, kind in kinds.items():
            y = targets[name]
            rows[name] = median_time(lambda: elementwise_kernel(kind, x, y, grad, T),
                                     args.repeat)
        rows["copy"] = copy
        for name, t in rows.items():
            print(f"{np.dtype(dtype).name:8} {name:8} {t * 1e3:9.2f} {t / copy:14.2f}")
        ew_results[np.dtype(dtype).name] = rows
    print()
    for dt, (kernel, api) in results.items():
        line = (f"{dt}: kernel {kernel['sklearn'] / kernel['skce']:.2f}x faster than "
                f"scikit-learn's, {kernel['skce'] / kernel['copy']:.2f}x the copy floor; "
                f"API call {api['sklearn'] / api['skce']:.2f}x faster than scikit-learn's")
        if "torch" in api:
            line += f", {api['torch'] / api['skce']:.2f}x faster than torch"
        print(line)
    return results


if __name__ == "__main__":
    main()
