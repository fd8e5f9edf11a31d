"""The `skce` command line (also `python -m skce`).

Without arguments: the build configuration, then the demo comparison on the
bundled letter data.  Subcommands: ``train``, ``predict``, ``evaluate``,
``bench``; ``skce COMMAND --help`` describes each.  A user error (a missing
or malformed file, a model and data that do not match, a bad parameter) is
one line on stderr and exit status 2; ``--debug`` shows the traceback.
"""
import argparse
import sys

from skce.cli._data import CLIError

EPILOG = """\
data formats (from the file name, else sniffed from the content; .gz/.bz2/.xz work):
  LIBSVM/svmlight  .svm .libsvm .svmlight .txt   "label idx:val ...", or dense "label v1 v2 ..."
  CSV              .csv .tsv   a header row; the label column is --target (default: the first)
  Parquet          .parquet .pq (needs pyarrow: pip install "skce[parquet]")
  NumPy            .npz   arrays X and y, or scipy.sparse.save_npz's arrays plus y
"""


def _train_parser(sub, common):
    p = sub.add_parser(
        "train", parents=[common], help="fit a model on a data file",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG + """
streaming (--chunk-size N): the file is read N rows at a time and every epoch is one
partial_fit per chunk, so it never has to fit in memory. A first pass over the file
collects the classes (skip it with --classes), the feature count and the scaling
statistics; validation needs --test FILE (a streamed file is not split, and is not
validated without one).""",
        description="Fit SoftmaxClassifier, LinearSVM or LinearRegressor on DATA, print "
                    "the training curve and a summary, optionally save the model (-o) "
                    "and plots (--plot).")
    p.add_argument("data", metavar="DATA", help="training data file")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--test", metavar="DATA", help="validation/test data file")
    g.add_argument("--test-size", type=float, metavar="F",
                   help="fraction of DATA held out for validation when there is no --test "
                        "(default 0.2, none with --chunk-size; 0: none)")
    p.add_argument("--model", choices=["softmax", "svm", "regressor"], default="softmax",
                   help="SoftmaxClassifier (default), LinearSVM or LinearRegressor")
    p.add_argument("--solver", help="solver of the estimator (sgd, adam, ...)")
    p.add_argument("--alpha", type=float, help="regularization strength (softmax, regressor)")
    p.add_argument("--epochs", type=int, help="max_iter: epochs at most")
    p.add_argument("--batch-size", type=int, help="rows per step")
    p.add_argument("--class-weight", choices=["balanced"], help="class_weight")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="any other estimator parameter, e.g. -p eta0=0.05 -p C=0.5 "
                        "(repeatable; values are Python literals or bare words)")
    p.add_argument("--no-scale", action="store_true",
                   help="do not standardize the features (default: StandardScaler, "
                        "without centering for sparse LIBSVM data; saved with the model)")
    p.add_argument("-o", "--output", metavar="MODEL", help="save the model (skops format)")
    p.add_argument("--plot", metavar="DIR", help="write PNG plots to DIR")
    p.add_argument("--seed", type=int, default=0, help="random_state and split seed")
    p.add_argument("--n-jobs", type=int, help="kernel threads (default: all)")
    p.add_argument("--target", metavar="NAME", help="label column (CSV/Parquet) or array "
                                                    "(.npz)")
    p.add_argument("--chunk-size", type=int, metavar="N", help="stream DATA N rows at a time")
    p.add_argument("--classes", metavar="A,B,...", help="all labels, for --chunk-size "
                                                        "(skips the first pass's label scan)")
    return p


def build_parser():
    """The argparse parser of `skce`."""
    import skce

    # SUPPRESS: given before or after the command, a subparser's default must not
    # overwrite the value the main parser read (main() fills in the defaults)
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    verb = common.add_mutually_exclusive_group()
    verb.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    verb.add_argument("-v", "--verbose", action="store_true", help="also show warnings")
    parser = argparse.ArgumentParser(
        prog="skce", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="skce: softmax/hinge/MSE linear models on fast C kernels. Without a "
                    "command: the build configuration and a demo on the bundled UCI letter "
                    "data (SoftmaxClassifier beside scikit-learn's LogisticRegression and "
                    "SGDClassifier).", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"skce {skce.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _train_parser(sub, common)
    p = sub.add_parser("predict", parents=[common], help="predict with a saved model",
                       description="One prediction per row of DATA, as CSV with a header "
                                   "(--proba: one probability column per class).")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("-o", "--output", metavar="OUT", help="CSV file (default: stdout)")
    p.add_argument("--proba", action="store_true", help="class probabilities")
    p.add_argument("--target", metavar="NAME", help="label column to ignore (default: the "
                                                    "one used in training, when present)")
    p = sub.add_parser("evaluate", parents=[common], help="score a saved model on labelled data",
                       description="Accuracy, log loss, per-class report and confusion matrix "
                                   "(R2 and MAE for the regressor).")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("data", metavar="DATA")
    p.add_argument("--target", metavar="NAME", help="label column (default: the training one)")
    p.add_argument("--plot", metavar="DIR", help="write the confusion matrix or residual PNG")
    p = sub.add_parser("bench", parents=[common], help="speed comparison with scikit-learn",
                       description="Run from a source tree (editable install): runs its "
                                   "benchmarks/compare.py (extra arguments go to it, e.g. skce "
                                   "bench -- --quick). Otherwise, or with --builtin: skce vs LogisticRegression vs "
                                   "SGDClassifier on the bundled letter data, with time ratios.")
    p.add_argument("--builtin", action="store_true", help="the built-in comparison")
    p.add_argument("--repeat", type=int, help="fits per model (median time; built-in "
                                              "default 3, compare.py's own otherwise)")
    p.add_argument("compare_args", nargs="*", metavar="ARG",
                   help="arguments for benchmarks/compare.py")
    return parser


def _run_demo():
    from skce import show_config
    from skce.cli._demo import compare

    show_config()
    compare()
    return 0


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, default sys.argv[1:]

    Returns
    -------
    int
    """
    from skce.cli import _commands

    parser = build_parser()
    args = parser.parse_args(argv)
    for flag in ("debug", "quiet", "verbose"):
        setattr(args, flag, getattr(args, flag, False))
    args.argv = argv
    run = {None: lambda a: _run_demo(), "train": _commands.train, "predict": _commands.predict,
           "evaluate": _commands.evaluate, "bench": _commands.bench}[args.command]
    try:
        return run(args)
    except KeyboardInterrupt:
        print("skce: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `skce predict ... | head`: stop quietly, also at exit's flush
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CLIError, ValueError, TypeError, OSError, MemoryError) as exc:
        if args.debug:
            raise
        message = str(exc).strip().replace("\n", " ") or type(exc).__name__
        if not isinstance(exc, CLIError):
            message = f"{type(exc).__name__}: {message}"
        print(f"skce: error: {message}", file=sys.stderr)
        return 2
