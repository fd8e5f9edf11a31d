"""Shared pytest configuration for the skce test suite.

Kept minimal on purpose: test modules build their own data from
``np.random.default_rng(seed)`` so that each can be read (and run) alone;
the data several modules share are the standardized digits set and the
LIBSVM letter file of ../shared/data (tests skip when it is absent).
torch is optional; the oracle modules skip themselves when it is missing.
"""
import gzip
from pathlib import Path

import numpy as np
import pytest

# beside the project root, not part of it (see README)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits (1797 x 64, 10 classes), standardized (built
    anew for each module)."""
    from _checks import standardized
    from sklearn.datasets import load_digits
    return standardized(load_digits)


@pytest.fixture(scope="session")
def letter_file():
    """../shared/data/letter.scale.gz as parsed text, (20000, 17): the label
    (1..26), then 16 values in [-1, 1]; the test skips when it is absent."""
    path = SHARED_DATA / "letter.scale.gz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with gzip.open(path) as f:
        return np.loadtxt(f)
