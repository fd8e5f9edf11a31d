"""What the command line prints and draws: tables, per-epoch progress, PNG plots."""
import sys
import time

import numpy as np

from skce.cli._data import CLIError


def format_table(headers, rows):
    """Rows as aligned text: the first column left-aligned, the others right-aligned.

    Parameters
    ----------
    headers : list of str
    rows : list of lists (floats are printed with 4 decimals, None as "-")

    Returns
    -------
    str
    """
    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4f}"
        return str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values):
        return " ".join(v.ljust(w) if i == 0 else v.rjust(w)
                        for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    head = line([str(h) for h in headers])
    return "\n".join([head, "-" * len(head)] + [line(r) for r in cells])


class Progress:
    """One line per epoch: loss, validation score, elapsed time and ETA.

    On a terminal it is a live bar (rich when installed, else one rewritten
    line); otherwise (a pipe or file) one plain line per epoch.

    Parameters
    ----------
    total : int
        Epochs at most (the ETA assumes all of them run).
    score_name : str
        Name of the validation score ("val acc", "val R2").
    quiet : bool
    file : file, default sys.stdout
    """

    def __init__(self, total, score_name, *, quiet=False, file=None):
        self.total, self.score_name, self.quiet = total, score_name, quiet
        self.file = sys.stdout if file is None else file
        self.t0 = time.perf_counter()
        self.tty = self.file.isatty()
        self._rich = None
        if not quiet and self.tty:
            try:
                from rich.console import Console
                from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
            except ImportError:
                pass
            else:
                self._rich = Bar(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                                 TextColumn("eta"), TimeRemainingColumn(),
                                 console=Console(file=self.file), transient=False)
                self._rich.start()
                self._task = self._rich.add_task("train", total=total, info="")

    def restart(self):
        """Count elapsed time from now (after reading the data)."""
        self.t0 = time.perf_counter()

    def update(self, epoch, loss, score):
        """Report epoch ``epoch`` (1-based): training objective and validation score."""
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / epoch * (self.total - epoch)
        info = f"loss {loss:.5f}" + ("" if score is None else f"  {self.score_name} {score:.4f}")
        if self._rich is not None:
            self._rich.update(self._task, completed=epoch, info=info)
        elif self.tty:
            self.file.write(f"\repoch {epoch}/{self.total}  {info}  {elapsed:.1f}s  "
                            f"eta {eta:.1f}s ")
            self.file.flush()
        else:
            print(f"epoch {epoch}/{self.total}  {info}  elapsed {elapsed:.2f}s  "
                  f"eta {eta:.2f}s", file=self.file, flush=True)

    def close(self):
        if self._rich is not None:
            self._rich.stop()
        elif self.tty and not self.quiet:
            self.file.write("\n")


def require_pyplot():
    try:
        import matplotlib
    except ImportError:
        raise CLIError('--plot needs matplotlib: pip install "skce[cli]"') from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_curves(history, score_name, path):
    """Training objective and validation score per epoch."""
    plt = require_pyplot()
    epochs = [h[0] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h[1] for h in history], "o-", label="training objective")
    ax.set_xlabel("epoch")
    ax.set_ylabel("objective")
    if any(h[2] is not None for h in history):
        ax2 = ax.twinx()
        ax2.plot(epochs, [h[2] for h in history], "s-", color="C1", label=score_name)
        ax2.set_ylabel(score_name)
        fig.legend(loc="center right", bbox_to_anchor=(0.85, 0.5))
    return _save(plt, fig, path)


def plot_confusion(cm, labels, path):
    """Confusion matrix, true labels as rows."""
    plt = require_pyplot()
    n = len(labels)
    fig, ax = plt.subplots(figsize=(max(4, 0.3 * n + 2), max(4, 0.3 * n + 2)))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ticks = np.arange(n)
    ax.set_xticks(ticks, [str(v) for v in labels], rotation=90 if n > 10 else 0)
    ax.set_yticks(ticks, [str(v) for v in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 12:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8)
    return _save(plt, fig, path)


def reliability_bins(y_idx, proba, n_bins=10):
    """(mean top-class probability, fraction correct) of the non-empty equal-width bins
    of the top-class probability.

    Parameters
    ----------
    y_idx : ndarray of shape (n,), the true class indices
    proba : ndarray of shape (n, n_classes)
    n_bins : int

    Returns
    -------
    mean_conf, accuracy : ndarrays
    """
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_idx
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    seen = counts > 0
    acc = np.bincount(bins, weights=correct, minlength=n_bins)[seen] / counts[seen]
    mean_conf = np.bincount(bins, weights=conf, minlength=n_bins)[seen] / counts[seen]
    return mean_conf, acc


def plot_reliability(y_idx, proba, path, n_bins=10):
    """Reliability diagram of the top-class probability: confidence vs accuracy per bin."""
    plt = require_pyplot()
    mean_conf, acc = reliability_bins(y_idx, proba, n_bins)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", label="perfectly calibrated")
    ax.plot(mean_conf, acc, "o-", label="model")
    ax.set_xlabel("mean predicted probability (top class)")
    ax.set_ylabel("fraction correct")
    ax.legend()
    return _save(plt, fig, path)


def plot_residuals(y, pred, path):
    """Residuals against predictions."""
    plt = require_pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(pred, y - pred, s=4, alpha=0.5)
    ax.axhline(0, color="k", lw=1)
    ax.set_xlabel("prediction")
    ax.set_ylabel("residual (y - prediction)")
    return _save(plt, fig, path)
