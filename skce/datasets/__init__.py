"""Small real data sets bundled with skce (for the demo, `skce bench` and examples)."""
from skce.datasets._letter import load_letter

__all__ = ["load_letter"]
