"""skce.datasets: the bundled letter data against the LIBSVM file it was made from."""
from pathlib import Path

import numpy as np

from skce.datasets import load_letter



def test_letter_shape_and_values():
    d = load_letter()
    X, y = d["data"], d["target"]
    assert X.shape == (20000, 16) and X.dtype == np.float64 and y.shape == (20000,)
    assert set(np.unique(y)) == set(range(26))
    # the UCI integers 0..15
    assert X.min() == 0 and X.max() == 15 and np.array_equal(X, np.round(X))
    assert list(d["target_names"][[0, 25]]) == ["A", "Z"] and len(d["feature_names"]) == 16
    assert "CC BY 4.0" in d["DESCR"]
    X32, y2 = load_letter(return_X_y=True, dtype=np.float32)
    assert X32.dtype == np.float32 and np.array_equal(y2, y)


def test_letter_is_the_libsvm_file(letter_file):
    ref = letter_file
    X, y = load_letter(return_X_y=True, scaled=True)
    # the text file has 6 significant digits
    np.testing.assert_allclose(X, ref[:, 1:], atol=1e-6, rtol=0)
    np.testing.assert_array_equal(y + 1, ref[:, 0])


def test_letter_is_installed_with_the_package():
    # meson installs the data beside the module (skce/datasets/meson.build)
    build = (Path(__file__).resolve().parents[1] / "skce" / "datasets" / "meson.build")
    if build.exists():
        assert "letter.npz" in build.read_text()
    import skce.datasets
    assert (Path(skce.datasets.__file__).parent / "letter.npz").stat().st_size < 1_000_000
