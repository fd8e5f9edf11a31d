"""`skce train`, `predict`, `evaluate` and `bench`."""
import ast
import csv
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from skce.cli._data import CLIError, Source, label_kind
from skce.cli._model import load_model, require_skops, save_model
from skce.cli._report import (Progress, format_table, plot_confusion, plot_curves,
                              plot_reliability, plot_residuals, require_pyplot)

ESTIMATORS = {"softmax": "SoftmaxClassifier", "svm": "LinearSVM",
              "regressor": "LinearRegressor"}


def _parse_value(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: a string option such as loss=huber


def build_estimator(args):
    """The estimator named by --model, with the options and -p NAME=VALUE parameters."""
    import skce.linear_model as lm

    est = getattr(lm, ESTIMATORS[args.model])()
    params = {}
    for flag, name in (("solver", "solver"), ("alpha", "alpha"), ("epochs", "max_iter"),
                       ("batch_size", "batch_size"), ("class_weight", "class_weight"),
                       ("seed", "random_state"), ("n_jobs", "n_jobs")):
        value = getattr(args, flag)
        if value is not None:
            params[name] = value
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            raise CLIError(f"-p {item!r}: write NAME=VALUE, e.g. -p eta0=0.01")
        params[name.strip()] = _parse_value(value.strip())
    valid = est.get_params()
    for name in params:
        if name not in valid:
            flag = {"alpha": "--alpha", "class_weight": "--class-weight"}.get(name, name)
            raise CLIError(f"{flag} is not a parameter of {type(est).__name__} "
                           f"(--model {args.model}); its parameters: {', '.join(sorted(valid))}")
    est.set_params(**params)
    try:
        est._validate_params()
    except ValueError as exc:
        raise CLIError(str(exc).replace("\n", " ")) from None
    return est


def _model_and_step(model):
    """(estimator, scaler or None) of a saved model."""
    if hasattr(model, "steps"):
        return model.steps[-1][1], model.steps[0][1]
    return model, None


# -- validation scores of the current coefficients (the epoch callback) -------

def _decision(X, coef, intercept):
    scores = X @ coef.T + intercept
    return np.asarray(scores)


def _score_fn(is_classifier, classes, X, y):
    from sklearn.metrics import r2_score

    if is_classifier:
        def score(coef, intercept):
            s = _decision(X, coef, intercept)
            pred = (s.ravel() > 0).astype(int) if s.shape[1] == 1 else s.argmax(axis=1)
            return float(np.mean(classes[pred] == y))
    else:
        def score(coef, intercept):
            return float(r2_score(y, _decision(X, coef, intercept).ravel()))
    return score


# -- train ---------------------------------------------------------------------

def _split(X, y, test_size, seed, stratify):
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(X, y, test_size=test_size, random_state=seed,
                                stratify=y if stratify else None)
    except ValueError:  # a class too rare to stratify: split at random
        return train_test_split(X, y, test_size=test_size, random_state=seed)


def _densify(X):
    """Sparse X with over 2/3 of its entries stored as dense (smaller: CSR spends 12
    bytes per entry, dense 8), so that it can be centred; else X."""
    if sp.issparse(X) and X.nnz * 3 > 2 * X.shape[0] * X.shape[1]:
        return X.toarray()
    return X


def _fit_in_memory(args, est, scaler, src, is_classifier, progress, history):
    X, y = src.load()
    if y is None:
        raise CLIError(f"{src.path}: no labels")
    X = _densify(X)
    src.dense = not sp.issparse(X)
    if args.test:
        test = Source(args.test, args.target, n_features=src.n_features,
                      zero_based=src.zero_based, feature_names=src.feature_names,
                      label_kind=label_kind(y))
        Xte, yte = test.load()
        Xtr, ytr, Xte = X, y, Xte.toarray() if src.dense and sp.issparse(Xte) else Xte
    elif (0.2 if args.test_size is None else args.test_size) > 0:
        test_size = 0.2 if args.test_size is None else args.test_size
        Xtr, Xte, ytr, yte = _split(X, y, test_size, args.seed, is_classifier)
    else:
        Xtr, ytr, Xte, yte = X, y, None, None
    if scaler is not None:
        scaler.set_params(with_mean=not sp.issparse(Xtr))  # centring would densify
        Xtr = scaler.fit_transform(Xtr)
        Xte = None if Xte is None else scaler.transform(Xte)
    classes = np.unique(ytr) if is_classifier else None
    score = None if Xte is None else _score_fn(is_classifier, classes, Xte, yte)

    def callback(epoch, coef, intercept, objective):
        s = None if score is None else score(coef, intercept)
        history.append((epoch, float(objective), s))
        progress.update(epoch, float(objective), s)

    progress.restart()
    est.fit(Xtr, ytr, callback=callback)
    return Xtr, ytr, Xte, yte


def _scan(src, chunk_size, scaler, is_classifier):
    """First pass over a streamed file: labels, row count, feature count, scaler statistics."""
    labels, rows, width = set(), 0, 0
    # LIBSVM chunks are only as wide as their largest index: the width is known, and the
    # scaler can run, once the whole file has been seen
    fixed_width = src.format != "libsvm"
    for X, y in src.chunks(chunk_size):
        if y is None:
            raise CLIError(f"{src.path}: no labels")
        rows += X.shape[0]
        width = max(width, X.shape[1])
        if is_classifier:
            labels.update(np.unique(y).tolist())
        if scaler is not None and fixed_width:
            scaler.set_params(with_mean=not sp.issparse(X))
            scaler.partial_fit(X)
    if not fixed_width:
        src.n_features = width
        if scaler is not None:
            for X, _ in src.chunks(chunk_size):
                scaler.set_params(with_mean=False)  # sparse: centring would densify
                scaler.partial_fit(X)
    return np.array(sorted(labels)) if is_classifier else None, rows


def _fit_streaming(args, est, scaler, src, is_classifier, progress, history):
    """--chunk-size: epochs of partial_fit over the file, chunk by chunk."""
    from sklearn.metrics import r2_score

    chunk = args.chunk_size
    if args.classes:
        classes = np.array([_parse_value(c) for c in args.classes.split(",")])
        rows = None
        if scaler is not None or src.format == "libsvm":
            _, rows = _scan(src, chunk, scaler, False)
    else:
        classes, rows = _scan(src, chunk, scaler, is_classifier)
    if is_classifier:
        src.label_kind = label_kind(classes)
    Xte = yte = None
    if args.test:
        test = Source(args.test, args.target, n_features=src.n_features,
                      zero_based=src.zero_based, feature_names=src.feature_names,
                      label_kind=src.label_kind)
        Xte, yte = test.load()
        src.dense = False  # chunks are read as they come: sparse stays sparse
        if scaler is not None:
            Xte = scaler.transform(Xte)
    if args.test_size and not args.test:
        raise CLIError("--chunk-size: a streamed file is not split; validate on --test FILE "
                       "instead of --test-size")
    max_iter = est.max_iter
    progress.restart()
    for epoch in range(1, max_iter + 1):
        total, n = 0.0, 0
        for X, y in src.chunks(chunk):
            if scaler is not None:
                X = scaler.transform(X)
            if is_classifier:
                unknown = np.setdiff1d(np.unique(y), classes)
                if unknown.size:
                    raise CLIError(f"{src.path}: labels {unknown[:5].tolist()} not in "
                                   f"--classes {classes.tolist()}")
                est.partial_fit(X, y, classes=classes)
            else:
                est.partial_fit(X, y)
            # the chunk's loss after its step, weighted by its rows
            total += est.loss_curve_[-1] * X.shape[0]
            n += X.shape[0]
        objective = total / max(n, 1)
        s = None
        if Xte is not None:
            s = float(est.score(Xte, yte)) if is_classifier else \
                float(r2_score(yte, est.predict(Xte)))
        history.append((epoch, objective, s))
        progress.update(epoch, objective, s)
    return None, None, Xte, yte


def _metrics(model, X, y, is_classifier):
    """Rows of the summary table for (X, y)."""
    from sklearn.metrics import log_loss, mean_absolute_error, r2_score

    est, _ = _model_and_step(model)
    if is_classifier:
        rows = [["accuracy", float(np.mean(model.predict(X) == y))]]
        if hasattr(est, "predict_proba"):
            proba = model.predict_proba(X)
            known = np.isin(y, est.classes_)
            if known.all():
                rows.append(["log loss", float(log_loss(y, proba, labels=est.classes_))])
        return rows
    pred = model.predict(X)
    return [["R2", float(r2_score(y, pred))], ["MAE", float(mean_absolute_error(y, pred))]]


def train(args):
    """`skce train`: fit, print a summary, optionally save the model and plots."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import skce

    # a missing optional dependency is reported before training, not after it
    if args.output:
        require_skops()
    if args.plot:
        require_pyplot()
    est = build_estimator(args)
    is_classifier = args.model != "regressor"
    src = Source(args.data, args.target, label_kind=None if is_classifier else "float")
    scaler = None if args.no_scale else StandardScaler()
    history = []
    progress = Progress(est.max_iter, "val acc" if is_classifier else "val R2",
                        quiet=args.quiet)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            if not args.verbose:
                warnings.simplefilter("ignore")  # ConvergenceWarning: the table says it
            fit = _fit_streaming if args.chunk_size else _fit_in_memory
            Xtr, ytr, Xte, yte = fit(args, est, scaler, src, is_classifier, progress, history)
    finally:
        progress.close()
    fit_time = time.perf_counter() - t0
    model = est if scaler is None else make_pipeline(scaler, est)
    # metrics on already scaled X: score the estimator itself
    rows = []
    if Xtr is not None:
        rows += [[f"train {m}", v] for m, v in _metrics(est, Xtr, ytr, is_classifier)]
    if Xte is not None:
        rows += [[f"test {m}", v] for m, v in _metrics(est, Xte, yte, is_classifier)]
    rows += [["epochs", history[-1][0] if history else est.n_iter_], ["fit s", f"{fit_time:.3f}"]]
    if not args.quiet:
        print(f"{type(est).__name__} on {src.path.name} ({src.format}, {src.n_features} "
              f"features{', ' + str(len(est.classes_)) + ' classes' if is_classifier else ''})")
        print(format_table(["", "value"], rows))
    if args.output:
        meta = {"skce_version": skce.__version__, "model": args.model,
                "n_features": int(src.n_features),
                "feature_names": src.feature_names, "zero_based": src.zero_based,
                "format": src.format, "target": args.target,
                "dense": bool(getattr(src, "dense", False)),
                "label_kind": label_kind(est.classes_) if is_classifier else "float",
                "command": " ".join(["skce", *sys.argv[1:]]) if args.argv is None
                else " ".join(["skce", *args.argv])}
        save_model(args.output, model, meta)
        if not args.quiet:
            print(f"model saved to {args.output}")
    if args.plot:
        _plots(Path(args.plot), est, history, Xte, yte, is_classifier, args.quiet)
    return 0


def _plots(outdir, est, history, Xte, yte, is_classifier, quiet):
    outdir.mkdir(parents=True, exist_ok=True)
    score_name = "validation accuracy" if is_classifier else "validation R2"
    paths = [plot_curves(history, score_name, outdir / "training_curve.png")]
    if Xte is not None:
        if is_classifier:
            paths.append(_confusion_plot(est, Xte, yte, outdir / "confusion_matrix.png"))
            if hasattr(est, "predict_proba"):
                known = np.isin(yte, est.classes_)
                y_idx = np.searchsorted(est.classes_, yte[known])
                paths.append(plot_reliability(y_idx, est.predict_proba(Xte[known]),
                                              outdir / "reliability.png"))
        else:
            paths.append(plot_residuals(yte, est.predict(Xte), outdir / "residuals.png"))
    if not quiet:
        print("plots: " + ", ".join(str(p) for p in paths))


def _confusion_plot(model, X, y, path):
    from sklearn.metrics import confusion_matrix

    labels = np.union1d(_model_and_step(model)[0].classes_, y)
    return plot_confusion(confusion_matrix(y, model.predict(X), labels=labels), labels, path)


# -- predict / evaluate ----------------------------------------------------------

def _read_for_model(path, meta, target, require_target):
    src = Source(path, target if target is not None else meta.get("target"),
                 require_target=require_target, n_features=meta["n_features"],
                 zero_based=meta.get("zero_based"), feature_names=meta.get("feature_names"),
                 label_kind=meta.get("label_kind"))
    X, y = src.load()
    if meta.get("dense") and sp.issparse(X):
        X = X.toarray()  # as in training: the scaler centres
    if X.shape[1] != meta["n_features"]:
        raise CLIError(f"{path}: {X.shape[1]} features, but the model was trained on "
                       f"{meta['n_features']}")
    return X, y


def predict(args):
    """`skce predict`: one prediction per row, as CSV."""
    model, meta = load_model(args.model)
    X, _ = _read_for_model(args.data, meta, args.target, require_target=False)
    est, _ = _model_and_step(model)
    if args.proba:
        if not hasattr(est, "predict_proba"):
            raise CLIError(f"--proba: {type(est).__name__} has no predict_proba "
                           f"(train --model softmax)")
        header, values = [str(c) for c in est.classes_], model.predict_proba(X)
    else:
        header, values = ["prediction"], model.predict(X)[:, None]
    out = sys.stdout if args.output in (None, "-") else open(args.output, "w", newline="")
    try:
        writer = csv.writer(out)
        writer.writerow(header)
        if values.dtype.kind == "f":  # shortest text that reads back to the same float
            writer.writerows([repr(float(v)) for v in row] for row in values)
        else:
            writer.writerows(values.tolist())
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def evaluate(args):
    """`skce evaluate`: metrics, per-class report and confusion matrix."""
    from sklearn.metrics import classification_report, confusion_matrix

    model, meta = load_model(args.model)
    X, y = _read_for_model(args.data, meta, args.target, require_target=True)
    est, _ = _model_and_step(model)
    is_classifier = meta["model"] != "regressor"
    print(f"{type(est).__name__} ({meta.get('command', '')}) on {args.data}: {X.shape[0]} rows")
    print(format_table(["", "value"], _metrics(model, X, y, is_classifier)))
    if is_classifier:
        pred = model.predict(X)
        labels = np.union1d(est.classes_, y)
        print("\n" + classification_report(y, pred, labels=labels, zero_division=0))
        cm = confusion_matrix(y, pred, labels=labels)
        print("confusion matrix (rows: true, columns: predicted)")
        print(format_table(["true\\pred", *[str(v) for v in labels]],
                           [[str(v), *row] for v, row in zip(labels, cm.tolist())]))
    if args.plot:
        outdir = Path(args.plot)
        outdir.mkdir(parents=True, exist_ok=True)
        if is_classifier:
            path = _confusion_plot(model, X, y, outdir / "confusion_matrix.png")
        else:
            path = plot_residuals(y, model.predict(X), outdir / "residuals.png")
        print(f"plot: {path}")
    return 0


# -- bench ----------------------------------------------------------------------

def compare_script():
    """benchmarks/compare.py of a source checkout, or None when skce is installed without it."""
    import skce

    path = Path(skce.__file__).resolve().parents[1] / "benchmarks" / "compare.py"
    return path if path.is_file() else None


def bench(args):
    """`skce bench`: benchmarks/compare.py when present, else the built-in comparison."""
    from skce.cli._demo import compare

    script = None if args.builtin else compare_script()
    if script is None:
        compare(repeat=3 if args.repeat is None else args.repeat)
        return 0
    repeat = [] if args.repeat is None else ["--repeat", str(args.repeat)]
    cmd = [sys.executable, str(script), *repeat, *args.compare_args]
    print("running " + " ".join(cmd), flush=True)
    return subprocess.call(cmd)
