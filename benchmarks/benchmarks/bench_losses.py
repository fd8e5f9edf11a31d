"""Loss + gradient of every kernel of skce.losses, float32/float64 x 1 thread /
all threads (n_threads=None), and the np.copyto memory floor as a reference."""
import numpy as np

# imported here, not in the timed functions: asv --quick times one call
from skce import losses

from .common import KERNEL_CLASSES, KERNEL_ROWS, NTXENT_DIM, NTXENT_ROWS

DTYPES = ["float32", "float64"]
THREADS = [1, None]


class _Kernel:
    params = [DTYPES, THREADS]
    param_names = ["dtype", "n_threads"]
    timeout = 300

    def setup(self, dtype, n_threads):
        self.rng = np.random.default_rng(0)
        self.n, self.C = KERNEL_ROWS, KERNEL_CLASSES
        self.x = self.rng.standard_normal((self.n, self.C)).astype(dtype)
        self.make(dtype)

    def make(self, dtype):
        raise NotImplementedError


class CrossEntropy(_Kernel):
    """cross_entropy(logits (n, C), class indices, return_grad=True)."""

    def make(self, dtype):
        self.y = self.rng.integers(0, self.C, self.n)

    def time_loss_grad(self, dtype, n_threads):
        losses.cross_entropy(self.x, self.y, return_grad=True, n_threads=n_threads)

    def time_loss(self, dtype, n_threads):
        losses.cross_entropy(self.x, self.y, n_threads=n_threads)

    def peakmem_loss_grad(self, dtype, n_threads):
        losses.cross_entropy(self.x, self.y, return_grad=True, n_threads=n_threads)


class BinaryCrossEntropyWithLogits(_Kernel):
    """binary_cross_entropy_with_logits on (n, C) logits and [0, 1] targets."""

    def make(self, dtype):
        self.y = (self.rng.random((self.n, self.C)) < 0.5).astype(dtype)

    def time_loss_grad(self, dtype, n_threads):
        losses.binary_cross_entropy_with_logits(self.x, self.y, return_grad=True,
                                                n_threads=n_threads)


class HingeLoss(_Kernel):
    """hinge_loss (elementwise, labels +-1) on (n, C) decision values, plain and squared."""

    params = [DTYPES, THREADS, [False, True]]
    param_names = ["dtype", "n_threads", "squared"]

    def setup(self, dtype, n_threads, squared):
        super().setup(dtype, n_threads)

    def make(self, dtype):
        self.y = np.where(self.rng.random((self.n, self.C)) < 0.5, -1.0, 1.0).astype(dtype)

    def time_loss_grad(self, dtype, n_threads, squared):
        losses.hinge_loss(self.x, self.y, squared=squared, return_grad=True,
                          n_threads=n_threads)


class MultiMarginLoss(_Kernel):
    """multi_margin_loss (Weston-Watkins as torch, and Crammer-Singer) on (n, C)."""

    params = [DTYPES, THREADS, ["weston_watkins", "crammer_singer"]]
    param_names = ["dtype", "n_threads", "kind"]

    def setup(self, dtype, n_threads, kind):
        super().setup(dtype, n_threads)

    def make(self, dtype):
        self.y = self.rng.integers(0, self.C, self.n)

    def time_loss_grad(self, dtype, n_threads, kind):
        losses.multi_margin_loss(self.x, self.y, kind=kind, return_grad=True,
                                 n_threads=n_threads)


class MSELoss(_Kernel):
    """mse_loss on (n, C)."""

    def make(self, dtype):
        self.y = self.rng.standard_normal((self.n, self.C)).astype(dtype)

    def time_loss_grad(self, dtype, n_threads):
        losses.mse_loss(self.x, self.y, return_grad=True, n_threads=n_threads)


class HuberLoss(_Kernel):
    """huber_loss (delta=1) on (n, C)."""

    def make(self, dtype):
        self.y = self.rng.standard_normal((self.n, self.C)).astype(dtype)

    def time_loss_grad(self, dtype, n_threads):
        losses.huber_loss(self.x, self.y, return_grad=True, n_threads=n_threads)


class NTXent:
    """nt_xent of two (N, D) views (O(N^2 D): the sizes are its own)."""

    params = [DTYPES, THREADS]
    param_names = ["dtype", "n_threads"]
    timeout = 300

    def setup(self, dtype, n_threads):
        rng = np.random.default_rng(0)
        self.z_a, self.z_b = rng.standard_normal((2, NTXENT_ROWS, NTXENT_DIM)).astype(dtype)

    def time_loss_grad(self, dtype, n_threads):
        losses.nt_xent(self.z_a, self.z_b, temperature=0.1, return_grad=True,
                       n_threads=n_threads)


class CopyFloor:
    """np.copyto of an (n, C) array: the memory-traffic floor of a kernel that
    reads the logits and writes a gradient of the same size."""

    params = [DTYPES]
    param_names = ["dtype"]

    def setup(self, dtype):
        self.x = np.random.default_rng(0).standard_normal(
            (KERNEL_ROWS, KERNEL_CLASSES)).astype(dtype)
        self.dst = np.empty_like(self.x)

    def time_copyto(self, dtype):
        np.copyto(self.dst, self.x)
