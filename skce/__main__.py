"""`python -m skce`: build configuration and a worked loss example."""
import numpy as np

from skce import losses, show_config


def main():
    show_config()
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 3))
    target = np.array([0, 2, 1, 1, 0])
    loss, grad = losses.cross_entropy(logits, target, return_grad=True)
    print("\ncross_entropy on 5x3 logits:", loss)
    print("gradient:\n", grad)


if __name__ == "__main__":
    main()
