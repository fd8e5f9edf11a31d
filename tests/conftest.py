"""Shared pytest configuration for the skce test suite.

Kept minimal on purpose: each test module builds its own data from
``np.random.default_rng(seed)`` so that it can be read (and run) alone.
torch is optional; the oracle module skips itself when it is missing.
"""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)
