"""Timing of skce.losses.nt_xent (loss + gradient) against torch.

    python benchmarks/bench_ntxent.py [--sizes 4096x128,1024x256] [--threads 1,2] [--repeat 7]
                                      [--no-torch]

For each (N, D), dtype and thread count: the median time of
nt_xent(z_a, z_b, temperature=0.1, return_grad=True) and, if installed, of
the SimCLR NT-Xent built from torch ops (forward + backward,
torch.set_num_threads(T)), with the ratio torch / skce.
"""
import argparse

import numpy as np

from bench_losses import median_time


def torch_ntxent(torch, a, b, temperature):
    F = torch.nn.functional
    at = a.detach().requires_grad_(True)
    bt = b.detach().requires_grad_(True)
    z = F.normalize(torch.cat([at, bt]), dim=1)
    m = z.shape[0]
    s = (z @ z.T / temperature).masked_fill(torch.eye(m, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(m // 2, m), torch.arange(0, m // 2)])
    F.cross_entropy(s, target).backward()
    return at.grad, bt.grad


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4096x128,1024x256")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-torch", action="store_true", help="time skce only")
    args = parser.parse_args(argv)
    from skce import losses

    try:
        import torch
    except ImportError:
        torch = None
    if args.no_torch:
        torch = None
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    header = (f"{'N':>6} {'D':>5} {'dtype':8} {'threads':>7} {'skce ms':>9} {'torch ms':>9} "
              f"{'torch/skce':>10}")
    print(f"nt_xent loss + gradient, median of {args.repeat}\n\n{header}\n{'-' * len(header)}")
    results = {}
    rng = np.random.default_rng(0)
    for n, d in sizes:
        for dtype in (np.float64, np.float32):
            a = rng.standard_normal((n, d)).astype(dtype)
            b = rng.standard_normal((n, d)).astype(dtype)
            for T in threads:
                t = median_time(lambda: losses.nt_xent(a, b, temperature=0.1, return_grad=True,
                                                       n_threads=T), args.repeat)
                tt = float("nan")
                if torch is not None:
                    torch.set_num_threads(T)
                    at, bt = torch.from_numpy(a), torch.from_numpy(b)
                    tt = median_time(lambda: torch_ntxent(torch, at, bt, 0.1), args.repeat)
                results[(n, d, np.dtype(dtype).name, T)] = (t, tt)
                print(f"{n:6} {d:5} {np.dtype(dtype).name:8} {T:7} {t * 1e3:9.1f} "
                      f"{tt * 1e3:9.1f} {tt / t:10.2f}", flush=True)
    return results


if __name__ == "__main__":
    main()
