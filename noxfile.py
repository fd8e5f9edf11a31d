"""nox sessions.  `nox -s oldest`: the tests against the oldest supported numpy,
scipy, scikit-learn and threadpoolctl (the floors of pyproject.toml's
dependencies, read from there so that they are written in one place)."""
import re
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
ROOT = Path(__file__).parent


def oldest_pins():
    """'numpy>=1.25' -> 'numpy==1.25.*' for every dependency of pyproject.toml."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = []
    for dep in deps:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)\s*", dep)
        if m is None:
            raise ValueError(f"cannot pin {dep!r}: write dependencies as 'name>=version'")
        pins.append(f"{m[1]}=={m[2]}.*")
    return pins


@nox.session(python="3.11")
def oldest(session):
    """Build skce against the oldest numpy/scipy and run the tests with them."""
    pins = oldest_pins()
    session.install(*pins, "meson-python>=0.16", "meson>=1.4", "ninja", "Cython>=3.0.10")
    # the test extras, kept from upgrading the pinned packages
    session.install(*pins, "pytest>=7", "hypothesis>=6", "pandas>=1.5,<2.3")
    session.install("--no-build-isolation", "--no-deps", ".")
    session.run("python", "-c", "import numpy, scipy, sklearn, threadpoolctl; "
                "print('oldest:', numpy.__version__, scipy.__version__, sklearn.__version__, "
                "threadpoolctl.__version__)")
    # from outside the source tree, so that the installed (compiled) skce is imported
    session.chdir(session.create_tmp())
    session.run("pytest", str(ROOT / "tests"), "-q", "-p", "no:cacheprovider",
                *session.posargs)
