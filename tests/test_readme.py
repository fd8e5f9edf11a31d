"""README.md's code blocks: every ```python block runs (in order, one namespace,
in a subprocess whose cwd is a temporary directory), and every ```bash block
names only commands that exist, files of the repository, and extras that
pyproject.toml defines (the commands themselves are not run: they install)."""
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
# shell builtins, and commands that the README's own pip lines install
BUILTINS = {"cd", ".", "source", "export"}
INSTALLED_BY_README = {"asv": "bench"}

RUNNER = r"""
import json, sys, traceback
ns = {"__name__": "__readme__"}
for i, code in json.load(open(sys.argv[1])):
    try:
        exec(compile(code, f"README.md python block {i}", "exec"), ns)
    except Exception:
        traceback.print_exc()
        sys.exit(f"README.md python block {i} failed")
"""


def blocks(lang):
    if not README.exists():
        pytest.skip("README.md is not beside the tests (installed tests)")
    return [m.group(2) for m in BLOCK.finditer(README.read_text()) if m.group(1) == lang]


def _runnable(code):
    """False for a block that needs what may be absent: torch, the shared data sets."""
    if "import torch" in code:
        try:
            import torch  # noqa: F401
        except ImportError:
            return False
    return "shared/data" not in code


@pytest.mark.slow
def test_python_blocks_run(tmp_path):
    code = [(i, c) for i, c in enumerate(blocks("python")) if _runnable(c)]
    assert code, "no python blocks found"
    (tmp_path / "blocks.json").write_text(json.dumps(code))
    (tmp_path / "runner.py").write_text(RUNNER)
    proc = subprocess.run([sys.executable, "runner.py", "blocks.json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _commands(line):
    """The simple commands of one shell line (split at && || | ;), comments removed."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="&|;")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words, out = [], []
    for tok in lexer:
        if tok and set(tok) <= set("&|;"):
            out.append(words)
            words = []
        else:
            words.append(tok)
    out.append(words)
    return [w for w in out if w]


def _check_command(words, cwd, extras, problems, line):
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        words = words[1:]  # VAR=value prefix
    if not words:
        return cwd
    cmd, args = words[0], words[1:]
    if cmd == "cd":
        target = (cwd / args[0]).resolve()
        if not target.is_dir():
            problems.append(f"{line!r}: cd {args[0]}: no such directory")
        return target
    if cmd not in BUILTINS and cmd not in INSTALLED_BY_README and shutil.which(cmd) is None \
            and shutil.which(cmd, path=str(Path(sys.executable).parent)) is None:
        problems.append(f"{line!r}: command {cmd!r} not found")
    if cmd in INSTALLED_BY_README and INSTALLED_BY_README[cmd] not in extras:
        problems.append(f"{line!r}: {cmd} should come with the extra "
                        f"{INSTALLED_BY_README[cmd]!r}")
    skip_next = False
    for a in args:
        if skip_next:  # the program of python -c
            skip_next = False
            continue
        if a == "-c":
            skip_next = True
            continue
        m = re.fullmatch(r"\.\[([\w,-]+)\]", a)
        if m:
            missing = set(m[1].split(",")) - extras
            if missing:
                problems.append(f"{line!r}: pyproject.toml has no extra {sorted(missing)}")
            continue
        if a.startswith(("-", "$", ".venv", "http")) or "=" in a:
            continue
        if "/" in a or a.endswith((".py", ".json", ".toml")):
            if not (cwd / a).exists():
                problems.append(f"{line!r}: {a} does not exist (from {cwd.relative_to(ROOT)})")
    return cwd


def test_bash_blocks_name_existing_things():
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    problems = []
    found = blocks("bash")
    assert found, "no bash blocks found"
    for block in found:
        cwd = ROOT  # every block starts at the repository root
        for line in block.splitlines():
            if not line.strip():
                continue
            for words in _commands(line):
                cwd = _check_command(words, cwd, extras, problems, line)
    assert not problems, "\n".join(problems)


def test_the_checker_finds_problems():
    extras = {"test"}
    problems = []
    for line in ["nosuchcommand --x", "python benchmarks/nope.py", 'pip install ".[nope]"',
                 "cd nowhere"]:
        for words in _commands(line):
            _check_command(words, ROOT, extras, problems, line)
    assert len(problems) == 4, problems
