"""The proximal L1 step of every optimizer against torch.optim.

skce's step with an L1 term (penalty="elasticnet": weight_decay = alpha (1 -
l1_ratio), l1 = alpha l1_ratio) is torch's step followed by a soft threshold
of the weights by l1 times each coordinate's own step length: lr for SGD,
lr / (1 - beta1^t) / (sqrt(v_t / (1 - beta2^t)) + eps) for Adam, lr / (sqrt(sq)
+ eps) for RMSprop, clr / (sqrt(sum) + eps) for Adagrad.  The reference here
applies that threshold to torch's parameters after each torch step, with the
denominators read from torch's own optimizer state; the intercept gets
neither penalty.  (The steps without L1 are compared with torch in
test_optimizers.py and test_sgd_adam*.py.)
"""
import numpy as np
import pytest

from skce._solver import OptimizerSpec

from _checks import assert_steps_match_torch

CASES = {
    "sgd": dict(solver="sgd", momentum=0.0),
    "sgd_momentum": dict(solver="sgd", momentum=0.9),
    "adam": dict(solver="adam"),
    "amsgrad": dict(solver="adam", amsgrad=True),
    "rmsprop": dict(solver="rmsprop", epsilon=1e-6),
    # its steps shrink as 1 / sqrt(sum of g^2): a larger alpha to reach zero
    "adagrad": dict(solver="adagrad", epsilon=1e-10, lr_decay=0.05, alpha=10.0),
}


class _ThenSoftThreshold:
    """torch's optimizer, then W <- soft(W, l1 * per-coordinate step length)."""

    def __init__(self, torch, params, spec, lr):
        self.torch, self.W, self.spec, self.lr = torch, params[0], spec, lr
        self.l1, l2 = spec.l1_l2()
        groups = [{"params": [params[0]], "weight_decay": l2},
                  {"params": [params[1]], "weight_decay": 0.0}]
        opt = torch.optim
        self.opt = {
            "sgd": lambda: opt.SGD(groups, lr=lr, momentum=spec.momentum),
            "adam": lambda: opt.Adam(groups, lr=lr, betas=(spec.beta_1, spec.beta_2),
                                     eps=spec.epsilon, amsgrad=spec.amsgrad),
            "rmsprop": lambda: opt.RMSprop(groups, lr=lr, alpha=spec.rho, eps=spec.epsilon,
                                           momentum=spec.momentum),
            "adagrad": lambda: opt.Adagrad(groups, lr=lr, lr_decay=spec.lr_decay, eps=spec.epsilon,
                                           initial_accumulator_value=spec.initial_accumulator_value),
        }[spec.solver]()

    def _step_length(self):
        torch, spec, lr = self.torch, self.spec, self.lr
        st = self.opt.state[self.W]
        if spec.solver == "sgd":
            return torch.full_like(self.W, lr)
        if spec.solver == "adam":
            t = float(st["step"])
            v = st["max_exp_avg_sq"] if spec.amsgrad else st["exp_avg_sq"]
            denom = v.sqrt() / np.sqrt(1 - spec.beta_2 ** t) + spec.epsilon
            return lr / (1 - spec.beta_1 ** t) / denom
        if spec.solver == "rmsprop":
            return lr / (st["square_avg"].sqrt() + spec.epsilon)
        clr = lr / (1 + (float(st["step"]) - 1) * spec.lr_decay)   # adagrad
        return clr / (st["sum"].sqrt() + spec.epsilon)

    def step(self):
        self.opt.step()
        with self.torch.no_grad():
            tau = self.l1 * self._step_length()
            self.W.copy_(self.W.sign() * (self.W.abs() - tau).clamp(min=0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_l1_steps_match_torch_then_soft_threshold(case, dtype):
    # alpha large enough that the threshold zeroes weights within the 30 steps
    spec = OptimizerSpec(**{"penalty": "elasticnet", "alpha": 0.5, "l1_ratio": 0.6, "momentum": 0.0,
                            **CASES[case]})
    assert_steps_match_torch(spec, dtype, _ThenSoftThreshold, n_steps=30, seed=2,
                             expect_zeros=True)
