"""The `skce` command line, end to end through the console script, on small
temporary LIBSVM / CSV / Parquet / npz files.

Oracles: scikit-learn's own svmlight reader, numpy and pyarrow read the same
files independently; the saved model is loaded with skops and its predictions
compared with what `skce predict` printed.
"""
import csv
import gzip
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("skops")
from sklearn.datasets import (dump_svmlight_file, load_svmlight_file,  # noqa: E402
                              make_classification)

from skce.cli import main  # noqa: E402
from skce.cli._data import CLIError  # noqa: E402
from skce.cli._model import load_model  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def run(args, cwd, check=True):
    """`skce ARGS` in a subprocess (the console script, else python -m skce), cwd outside
    the source tree."""
    exe = shutil.which("skce", path=os.path.dirname(sys.executable)) or shutil.which("skce")
    cmd = [exe] if exe else [sys.executable, "-m", "skce"]
    proc = subprocess.run(cmd + [str(a) for a in args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"skce {args} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def cli(capsys):
    """`skce ARGS` in this process (skops and scikit-learn load once: a subprocess spends
    seconds importing them); same checks as run()."""
    def call(args, cwd=None, check=True):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        if check and code != 0:
            raise AssertionError(f"skce {args} failed ({code}):\n{err}")
        return _Result(code, out, err)
    return call


def assert_user_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skce: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4, n_redundant=0,
                               n_classes=3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def files(tmp_path_factory, data):
    """The same rows as LIBSVM (gzip, no telling suffix), CSV with string labels, npz."""
    d = tmp_path_factory.mktemp("cli")
    X, y = data
    buf = io.BytesIO()
    dump_svmlight_file(X[:300], y[:300], buf, zero_based=False)
    (d / "train.gz").write_bytes(gzip.compress(buf.getvalue()))  # sniffed: LIBSVM in gzip
    dump_svmlight_file(X[300:], y[300:], str(d / "test.svm"), zero_based=False)
    names = ["a", "b", "c", "d", "e", "f"]
    labels = np.array(["cat", "dog", "eel"])[y]
    with open(d / "train.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names[:3] + ["animal"] + names[3:])  # label column in the middle
        for row, lab in zip(X[:300], labels[:300]):
            w.writerow([*map(str, row[:3].tolist()), lab, *map(str, row[3:].tolist())])
    with open(d / "test.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)  # no label column: for predict
        w.writerows(X[300:].tolist())
    np.savez(d / "train.npz", X=X[:300], y=y[:300])
    return d


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


# -- train / predict / evaluate per format ----------------------------------------

@pytest.mark.slow
def test_libsvm_train_predict_evaluate_plots(files, tmp_path, cli):
    # the console script; the model is saved in this process below (importing skops takes
    # seconds: it lists every scikit-learn estimator, importing torch when installed)
    p = run(["train", files / "train.gz", "--test", files / "test.svm", "--epochs", 4,
             "--plot", tmp_path / "plots"], cwd=tmp_path)
    # stdout is a pipe: one plain progress line per epoch with loss, validation score, ETA
    epoch_lines = [ln for ln in p.stdout.splitlines() if ln.startswith("epoch ")]
    assert [ln.split()[1] for ln in epoch_lines] == ["1/4", "2/4", "3/4", "4/4"]
    assert all("loss" in ln and "val acc" in ln and "eta" in ln for ln in epoch_lines)
    assert "libsvm" in p.stdout and "test accuracy" in p.stdout
    for name in ("training_curve", "confusion_matrix", "reliability"):
        png = (tmp_path / "plots" / f"{name}.png").read_bytes()
        assert png.startswith(PNG) and len(png) > 1000
    cli(["train", files / "train.gz", "--test", files / "test.svm", "--epochs", 4, "-q",
         "-o", tmp_path / "m.skops"])
    model, meta = load_model(tmp_path / "m.skops")
    assert meta["n_features"] == 6 and meta["zero_based"] is False
    assert meta["command"].startswith("skce train") and "--epochs 4" in meta["command"]
    Xte, yte = load_svmlight_file(str(files / "test.svm"), n_features=6)
    assert meta["dense"]  # no zeros: read as dense, so that the features are centred
    Xte = Xte.toarray()
    # predict and evaluate in this process: a subprocess spends seconds importing skops
    cli(["predict", tmp_path / "m.skops", files / "test.svm", "-o", tmp_path / "p.csv"])
    header, rows = read_csv(tmp_path / "p.csv")
    assert header == ["prediction"]
    np.testing.assert_array_equal(np.array(rows, dtype=float).ravel(), model.predict(Xte))
    p = cli(["evaluate", tmp_path / "m.skops", files / "test.svm"])
    acc = float(np.mean(model.predict(Xte) == yte))
    assert f"accuracy {acc:.4f}" in " ".join(p.stdout.split())
    assert "precision" in p.stdout and "confusion matrix" in p.stdout


def test_csv_string_labels_target_and_proba(files, tmp_path, cli):
    cli(["train", files / "train.csv", "--target", "animal", "--epochs", 3, "--test-size",
         0.25, "-o", tmp_path / "m.skops", "-q"], cwd=tmp_path)
    model, meta = load_model(tmp_path / "m.skops")
    assert meta["feature_names"] == ["a", "b", "c", "d", "e", "f"]
    assert list(model.classes_) == ["cat", "dog", "eel"]
    cli(["predict", tmp_path / "m.skops", files / "test.csv", "--proba", "-o",
         tmp_path / "p.csv"], cwd=tmp_path)
    header, rows = read_csv(tmp_path / "p.csv")
    assert header == ["cat", "dog", "eel"]
    proba = np.array(rows, dtype=float)
    X = np.loadtxt(files / "test.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    p = cli(["predict", tmp_path / "m.skops", files / "test.csv"], cwd=tmp_path)
    assert p.stdout.splitlines()[1:] == list(model.predict(X))
    # evaluate reads the label column the model was trained with, and plots
    p = cli(["evaluate", tmp_path / "m.skops", files / "train.csv", "--plot", tmp_path / "ev"])
    assert "cat" in p.stdout and "confusion matrix" in p.stdout
    assert (tmp_path / "ev" / "confusion_matrix.png").read_bytes().startswith(PNG)


def test_parquet(data, tmp_path, cli):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X, y = data
    table = pa.table({**{f"x{i}": X[:, i] for i in range(6)}, "label": y})
    pq.write_table(table, tmp_path / "d.parquet")
    cli(["train", tmp_path / "d.parquet", "--target", "label", "--epochs", 3, "-o",
         tmp_path / "m.skops", "-q"], cwd=tmp_path)
    model, meta = load_model(tmp_path / "m.skops")
    p = cli(["evaluate", tmp_path / "m.skops", tmp_path / "d.parquet"], cwd=tmp_path)
    acc = float(np.mean(model.predict(X) == y))
    assert f"accuracy {acc:.4f}" in " ".join(p.stdout.split())


def test_npz_dense_and_sparse_regressor(data, tmp_path, cli):
    import scipy.sparse as sp

    X, y = data
    target = X @ np.arange(1, 7) + 0.1
    np.savez(tmp_path / "dense.npz", X=X, y=target)
    S = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0))
    np.savez(tmp_path / "sparse.npz", data=S.data, indices=S.indices, indptr=S.indptr,
             shape=S.shape, format="csr", y=target)
    for name in ("dense.npz", "sparse.npz"):
        p = cli(["train", tmp_path / name, "--model", "regressor", "--epochs", 20,
                 "--test-size", 0.25, "--plot", tmp_path / f"{name}_plots",
                 "-o", tmp_path / "r.skops"],
                cwd=tmp_path)
        assert "test R2" in p.stdout and "val R2" in p.stdout
        png = (tmp_path / f"{name}_plots" / "residuals.png").read_bytes()
        assert png.startswith(PNG) and len(png) > 1000
    p = cli(["evaluate", tmp_path / "r.skops", tmp_path / "sparse.npz"], cwd=tmp_path)
    model, meta = load_model(tmp_path / "r.skops")
    from sklearn.metrics import r2_score
    r2 = r2_score(target, model.predict(S.toarray() if meta["dense"] else S))
    assert f"R2 {r2:.4f}" in " ".join(p.stdout.split())


def test_svm_and_parameters_pass_through(files, tmp_path, cli):
    cli(["train", files / "train.gz", "--model", "svm", "-p", "C=0.5", "-p",
         "loss=hinge", "--epochs", 3, "--test-size", 0, "-o", tmp_path / "s.skops", "-q"],
        cwd=tmp_path)
    model, _ = load_model(tmp_path / "s.skops")
    est = model.steps[-1][1]
    assert (type(est).__name__, est.C, est.loss, est.max_iter) == ("LinearSVM", 0.5, "hinge", 3)
    assert_user_error(cli(["predict", tmp_path / "s.skops", files / "test.svm", "--proba"],
                          cwd=tmp_path, check=False), "predict_proba")


def test_streaming_matches_classes_and_epochs(files, tmp_path, cli):
    p = cli(["train", files / "train.gz", "--test", files / "test.svm", "--chunk-size", 64,
             "--epochs", 3, "-o", tmp_path / "m.skops"], cwd=tmp_path)
    assert sum(ln.startswith("epoch ") for ln in p.stdout.splitlines()) == 3
    model, meta = load_model(tmp_path / "m.skops")
    est = model.steps[-1][1]
    assert list(est.classes_) == [0, 1, 2] and meta["n_features"] == 6
    # 300 rows in chunks of 64: 5 partial_fit calls per epoch
    assert est.n_iter_ == 15
    # CSV with string labels, streamed too (the classes from the first pass)
    p = cli(["train", files / "train.csv", "--target", "animal", "--chunk-size", 100,
             "--test", files / "train.csv", "--epochs", 2, "-o", tmp_path / "c.skops"])
    model, meta = load_model(tmp_path / "c.skops")
    assert list(model.classes_) == ["cat", "dog", "eel"] and model.steps[-1][1].n_iter_ == 6
    assert meta["feature_names"] == ["a", "b", "c", "d", "e", "f"]
    p = cli(["train", files / "train.gz", "--chunk-size", 64, "--classes", "0,1", "--epochs",
             1, "--test", files / "test.svm"], cwd=tmp_path, check=False)
    assert_user_error(p, "not in --classes")
    # streamed: no split by default; an explicit --test-size is refused
    p = cli(["train", files / "train.gz", "--chunk-size", 100, "--epochs", 1])
    assert "test accuracy" not in p.stdout and "epoch 1/1" in p.stdout
    assert_user_error(cli(["train", files / "train.gz", "--chunk-size", 100, "--test-size",
                           0.2], check=False), "not split")


# -- progress, demo, bench -----------------------------------------------------------

class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_and_off():
    from skce.cli._report import Progress

    for out in (_Tty(), io.StringIO()):
        bar = Progress(3, "val acc", file=out)
        for epoch in (1, 2, 3):
            bar.update(epoch, 1.0 / epoch, 0.5 + epoch / 10)
        bar.close()
        text = out.getvalue()
        assert "3/3" in text and "0.8000" in text and "0.33333" in text
        # off a terminal: exactly one plain line per epoch; on one: a live line or bar
        assert (text.count("\n") == 3) != isinstance(out, _Tty)
    quiet = io.StringIO()
    Progress(3, "val acc", quiet=True, file=quiet).update(1, 1.0, None)
    assert quiet.getvalue() == ""


def test_demo_rows_and_iterations(monkeypatch, capsys):
    from sklearn.linear_model import LogisticRegression

    from skce.cli import _demo

    Xtr, Xte, ytr, yte = _demo.letter_split()
    monkeypatch.setattr(_demo, "letter_split",
                        lambda: (Xtr[:1500], Xte[:500], ytr[:1500], yte[:500]))
    rows = _demo.compare(repeat=1)
    names = [r[0] for r in rows]
    assert names[0] == "skce SoftmaxClassifier()" and len(names) == len(_demo.models(1500))
    assert any("LogisticRegression" in n for n in names) and any("SGD" in n for n in names)
    assert 'skce SoftmaxClassifier(solver="adam")' in names   # (the default is auto: lbfgs here)
    for r in rows:
        assert 0.3 < r[1] <= 1 and r[2] > 0 and isinstance(r[5], int) and r[5] >= 1
    lr = LogisticRegression(max_iter=7).fit(Xtr[:500], ytr[:500])
    assert _demo._iterations(lr) == int(lr.n_iter_.max())
    out = capsys.readouterr().out
    assert "UCI letter" in out and "time / skce" in out
    # skce bench --builtin is this comparison
    assert main(["bench", "--builtin", "--repeat", "1"]) == 0
    assert "1.00x" in capsys.readouterr().out
    # skce without arguments: the build summary, then the comparison
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.index("OpenMP") < out.index("UCI letter") < out.index("LogisticRegression")


def test_version_and_help(tmp_path, capsys):
    import skce

    assert run(["--version"], cwd=tmp_path).stdout.strip() == f"skce {skce.__version__}"
    for cmd in ([], ["train"], ["predict"], ["evaluate"], ["bench"]):
        with pytest.raises(SystemExit) as exc:
            main(cmd + ["--help"])
        assert exc.value.code == 0
        assert "usage: skce" in capsys.readouterr().out


# -- errors: one line on stderr, exit status 2 ------------------------------------

@pytest.mark.slow
def test_errors_in_a_subprocess(files, tmp_path):
    missing = tmp_path / "nope.svm"
    assert_user_error(run(["train", missing], cwd=tmp_path, check=False), "no such file")
    bad = tmp_path / "bad.svm"
    bad.write_text("# a comment\n1 1:0.5 2:1\n\n0 1:0.25 2:x\n")  # the 4th line is bad
    assert_user_error(run(["train", bad], cwd=tmp_path, check=False), "line 4")
    with pytest.raises(CLIError, match="line 4"):  # --debug: the exception itself
        main(["train", str(bad), "--debug"])


def _err(capsys, argv):
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skce: error: ")
    return err[0]


def test_error_paths(files, tmp_path, capsys):
    import os as _os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    assert main(["train", str(files / "train.gz"), "--epochs", "2", "-q", "-o",
                 str(tmp_path / "m.skops")]) == 0
    m = tmp_path / "m.skops"
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,oops,1\n")
    assert "line 3" in _err(capsys, ["train", tmp_path / "bad.csv", "--target", "y"])
    (tmp_path / "short.csv").write_text("a,b,y\n1,2,0\n3,1\n")
    assert "line 3" in _err(capsys, ["train", tmp_path / "short.csv", "--target", "y"])
    assert "no column 'z'" in _err(capsys, ["train", files / "train.csv", "--target", "z"])
    (tmp_path / "dense.txt").write_text("1 0.5 0.2\n2 0.1\n")
    assert "line 2" in _err(capsys, ["train", tmp_path / "dense.txt"])
    (tmp_path / "empty.svm").write_text("")
    assert "empty" in _err(capsys, ["train", tmp_path / "empty.svm"])
    (tmp_path / "text.npz").write_text("1 1:2\n")
    assert "not one" in _err(capsys, ["train", tmp_path / "text.npz"])
    (tmp_path / "lib.csv").write_text("1 1:2 3:4\n0 2:1\n")
    assert "the name says csv" in _err(capsys, ["train", tmp_path / "lib.csv"])
    # feature count of the data vs the model
    wide = tmp_path / "wide.svm"
    wide.write_text("1 1:0.5 9:1\n")
    assert "features" in _err(capsys, ["predict", m, wide])
    np.savez(tmp_path / "narrow.npz", X=np.ones((3, 2)), y=np.zeros(3))
    assert "trained on 6" in _err(capsys, ["evaluate", m, tmp_path / "narrow.npz"])
    # model files: not skops, untrusted types, another format version
    assert "not a skops model file" in _err(capsys, ["predict", files / "test.svm",
                                                     files / "test.svm"])
    sio.dump({"model": FunctionTransformer(func=_os.system), "meta": {}}, tmp_path / "evil.skops")
    assert "posix.system" in _err(capsys, ["predict", tmp_path / "evil.skops", files / "test.svm"])
    model, meta = load_model(m)
    sio.dump({"model": model, "meta": {**meta, "format_version": 99,
                                       "skce_version": "9.0"}}, tmp_path / "new.skops")
    msg = _err(capsys, ["predict", tmp_path / "new.skops", files / "test.svm"])
    assert "skce 9.0" in msg and "retrain" in msg
    assert "not a parameter of LinearSVM" in _err(capsys, ["train", files / "train.gz",
                                                          "--model", "svm", "--alpha", "1"])
    assert "bogus" in _err(capsys, ["train", files / "train.gz", "-p", "bogus=1"])
    assert "eta0" in _err(capsys, ["train", files / "train.gz", "-p", "eta0=-1"])
    assert "NAME=VALUE" in _err(capsys, ["train", files / "train.gz", "-p", "eta0"])


def test_bench_runs_compare_py_with_its_arguments(tmp_path, monkeypatch, capfd):
    from pathlib import Path

    from skce.cli import _commands

    script = _commands.compare_script()
    repo_script = Path(__file__).resolve().parents[1] / "benchmarks" / "compare.py"
    import skce
    if (Path(skce.__file__).resolve().parents[1] / "benchmarks" / "compare.py").exists():
        assert script == repo_script
    fake = tmp_path / "compare.py"
    fake.write_text("import sys; print('ARGS', sys.argv[1:])")
    monkeypatch.setattr(_commands, "compare_script", lambda: fake)
    assert main(["bench", "--repeat", "2", "--", "--quick", "--threads", "1"]) == 0
    assert "ARGS ['--repeat', '2', '--quick', '--threads', '1']" in capfd.readouterr().out


@pytest.mark.parametrize("module, argv, extra", [
    ("skops.io", ["train", "{train}", "--epochs", "1", "-q", "-o", "{tmp}/m.skops"], "skce[cli]"),
    ("matplotlib", ["train", "{train}", "--epochs", "1", "-q", "--plot", "{tmp}/p"], "skce[cli]"),
    ("pyarrow.parquet", ["train", "{tmp}/d.parquet"], "skce[parquet]"),
])
def test_missing_optional_dependency_names_the_extra(files, tmp_path, monkeypatch, capsys,
                                                     module, argv, extra):
    (tmp_path / "d.parquet").write_bytes(b"PAR1" + b"\0" * 16)
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    argv = [a.format(train=files / "train.gz", tmp=tmp_path) for a in argv]
    assert extra in _err(capsys, argv)


def test_plain_progress_without_rich(monkeypatch):
    from skce.cli._report import Progress

    monkeypatch.setitem(sys.modules, "rich.progress", None)
    out = _Tty()
    bar = Progress(2, "val acc", file=out)
    bar.update(1, 0.5, 0.9)
    bar.update(2, 0.25, 0.95)
    bar.close()
    assert out.getvalue().count("\r") == 2 and "epoch 2/2" in out.getvalue()


def test_reliability_bins_match_scikit_learn():
    from sklearn.calibration import calibration_curve

    from skce.cli._report import reliability_bins

    rng = np.random.default_rng(0)
    logits = rng.standard_normal((2000, 4)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.integers(0, 4, 2000)
    conf, acc = reliability_bins(y, proba, n_bins=10)
    correct = (proba.argmax(axis=1) == y).astype(int)
    ref_acc, ref_conf = calibration_curve(correct, proba.max(axis=1), n_bins=10)
    np.testing.assert_allclose(conf, ref_conf, rtol=1e-12)
    np.testing.assert_allclose(acc, ref_acc, rtol=1e-12)
