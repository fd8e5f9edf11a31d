"""Data files for the command line: format detection and readers.

Formats: LIBSVM/svmlight (``label idx:val ...``), dense text (``label v1 v2
...``, whitespace-separated, as LIBSVM's letter.scale), CSV with a header,
Parquet (pyarrow) and ``.npz``.  Text files may be gzip, bz2 or xz
compressed; compression is recognised by its magic bytes, the format by the
file name when it says (``.svm``, ``.libsvm``, ``.svmlight``, ``.txt``,
``.csv``, ``.tsv``, ``.parquet``, ``.pq``, ``.npz``, before any ``.gz``/
``.bz2``/``.xz``) and otherwise by the first line; a name and content that
disagree are an error.

Every reader yields chunks ``(X, y)`` of at most ``chunk_size`` rows, so a
large file can be streamed through ``partial_fit``; :meth:`Source.load`
concatenates them (LIBSVM in one call of scikit-learn's parser).
"""
import bz2
import csv
import gzip
import io
import lzma
from pathlib import Path

import numpy as np


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit status 2."""


_MAGIC = [(b"\x1f\x8b", "gzip", gzip.open), (b"BZh", "bz2", bz2.open),
          (b"\xfd7zXZ\x00", "xz", lzma.open)]
_BY_SUFFIX = {".svm": "libsvm", ".libsvm": "libsvm", ".svmlight": "libsvm", ".txt": "libsvm",
              ".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
              ".npz": "npz"}
FORMATS = ("libsvm", "dense", "csv", "parquet", "npz")


def _open_binary(path):
    """The file's bytes, decompressed when its magic bytes say gzip/bz2/xz."""
    with open(path, "rb") as f:
        head = f.read(6)
    for magic, _, opener in _MAGIC:
        if head.startswith(magic):
            return opener(path, "rb")
    return open(path, "rb")


def _name_format(path):
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz"):
        suffixes = suffixes[:-1]
    return _BY_SUFFIX.get(suffixes[-1]) if suffixes else None


def _first_line(path):
    try:
        with _open_binary(path) as f:
            for raw in f:
                line = raw.decode("utf-8", errors="replace").strip()
                if line and not line.startswith("#"):
                    return line
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise CLIError(f"{path}: cannot read it ({exc})") from exc
    raise CLIError(f"{path}: the file is empty")


def _sniff_text(line):
    tokens = line.split()
    if len(tokens) > 1 and all(":" in t for t in tokens[1:]):
        return "libsvm"
    if "," in line or "\t" in line:
        return "csv"
    try:
        [float(t) for t in tokens]
    except ValueError:
        return None
    return "dense" if len(tokens) > 1 else "libsvm"


def detect_format(path):
    """The format of ``path`` (one of FORMATS), from its name and content.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    str
    """
    path = Path(path)
    if not path.exists():
        raise CLIError(f"{path}: no such file")
    if not path.is_file():
        raise CLIError(f"{path}: not a file")
    with open(path, "rb") as f:
        head = f.read(4)
    named = _name_format(path)
    if head.startswith(b"PK"):
        content = "npz"
    elif head.startswith(b"PAR1"):
        content = "parquet"
    else:
        if named in ("npz", "parquet"):
            raise CLIError(f"{path}: named like a .{named} file but it is not one "
                           f"(its first bytes are {head!r})")
        content = _sniff_text(_first_line(path))
        if content is None:
            raise CLIError(f"{path}: cannot tell the format from the first line; expected "
                           f"LIBSVM ('label idx:val ...'), CSV with a header, Parquet or .npz")
        if named == "libsvm" and content in ("libsvm", "dense"):
            return content
        if named == "csv" and content == "dense":
            return "csv"  # a one-column CSV has no comma
    if named is not None and named != content:
        raise CLIError(f"{path}: the name says {named} but the content looks like {content}")
    return content


def _as_labels(values, kind):
    """Label strings as int, float or str (``kind``: "int", "float", "str" or None to decide)."""
    values = np.asarray(values)
    if kind in (None, "int"):
        try:
            as_float = values.astype(np.float64)
        except ValueError:
            if kind == "int":
                raise
            return values.astype(str)
        if np.all(np.isfinite(as_float)) and np.all(as_float == np.round(as_float)):
            return as_float.astype(np.int64)
        return as_float
    return values.astype(np.float64) if kind == "float" else values.astype(str)


def label_kind(y):
    """"int", "float" or "str": how to read labels of later files like y."""
    y = np.asarray(y)
    if y.dtype.kind in "iub":
        return "int"
    return "float" if y.dtype.kind == "f" else "str"


class Source:
    """One data file: its format, feature names and chunked reading.

    Parameters
    ----------
    path : str or Path
    target : str or None
        Label column of a CSV/Parquet file (default: the first column), or
        the label key of an .npz file (default ``"y"``).
    require_target : bool
        False for prediction: a CSV/Parquet file may lack the label column.
    n_features, zero_based, feature_names : from the model, for later files.
    """

    def __init__(self, path, target=None, *, require_target=True, n_features=None,
                 zero_based=None, feature_names=None, label_kind=None):
        self.path = Path(path)
        self.format = detect_format(self.path)
        self.target = target
        self.require_target = require_target
        self.n_features = n_features
        self.zero_based = zero_based
        self.feature_names = feature_names
        self.label_kind = label_kind
        self.has_target = True

    def _error(self, where, what):
        return CLIError(f"{self.path}: {where}: {what}")

    # -- text line helpers --------------------------------------------------
    def _lines(self, chunk_size):
        """([line numbers], [lines]) in groups of chunk_size lines, blank and
        comment lines left out."""
        try:
            with _open_binary(self.path) as f:
                numbers, batch = [], []
                for number, raw in enumerate(f, 1):
                    if not raw.strip() or raw.lstrip().startswith(b"#"):
                        continue
                    numbers.append(number)
                    batch.append(raw)
                    if len(batch) == chunk_size:
                        yield numbers, batch
                        numbers, batch = [], []
                if batch:
                    yield numbers, batch
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise CLIError(f"{self.path}: cannot read it ({exc})") from exc

    def _locate_bad_line(self, numbers, lines, parse):
        """Raise a CLIError naming the first line of `lines` that `parse` rejects."""
        for number, raw in zip(numbers, lines):
            try:
                parse(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise self._error(f"line {number}", f"{exc}") from None

    @staticmethod
    def _parse_libsvm_line(line):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            raise ValueError("empty line")
        try:
            float(tokens[0])
        except ValueError:
            raise ValueError(f"the label {tokens[0]!r} is not a number") from None
        last = -1
        for t in tokens[1:]:
            if t.startswith("qid:"):
                continue
            idx, sep, val = t.partition(":")
            if not sep or not idx.isdigit():
                raise ValueError(f"{t!r} is not 'index:value' with a non-negative integer "
                                 f"index")
            float(val)
            if int(idx) <= last:
                raise ValueError(f"feature indices must increase; {idx} after {last}")
            last = int(idx)

    # -- LIBSVM -----------------------------------------------------------------
    def _libsvm_parse(self, numbers, lines, n_features):
        from sklearn.datasets import load_svmlight_file

        try:
            X, y = load_svmlight_file(io.BytesIO(b"".join(lines)), n_features=n_features,
                                      zero_based=True, dtype=np.float64)
        except ValueError as exc:
            self._locate_bad_line(numbers, lines, self._parse_libsvm_line)
            raise self._error(f"lines {numbers[0]}-{numbers[-1]}", str(exc)) from None
        return X, y

    def _libsvm_columns(self, X, start):
        """Raw (zero-based) columns -> the model's columns (drop column 0 of a 1-based file)."""
        if self.zero_based is None:
            self.zero_based = bool(X.shape[1] > 0 and X.indptr[-1] > 0 and X.indices.min() == 0)
        if not self.zero_based:
            if X.shape[1] and X[:, 0].nnz:
                raise self._error(f"line {start} or after", "feature index 0 in a file of "
                                  "1-based indices (the model was trained on 1-based indices)")
            X = X[:, 1:]
        return X

    def _check_width(self, X, where):
        if self.n_features is not None and X.shape[1] > self.n_features:
            raise self._error(where, f"{X.shape[1]} features, but the model has "
                              f"{self.n_features}")

    def _libsvm_chunks(self, chunk_size):
        raw_width = None
        if self.n_features is not None and self.zero_based is not None:
            raw_width = self.n_features + (0 if self.zero_based else 1)
        for numbers, lines in self._lines(chunk_size):
            start = numbers[0]
            X, y = self._libsvm_parse(numbers, lines, None)
            if raw_width is not None:
                if X.shape[1] > raw_width:
                    raise self._error(f"lines {start}-{numbers[-1]}",
                                      f"feature index {X.shape[1] - 1} is beyond the model's "
                                      f"{self.n_features} features")
                X.resize((X.shape[0], raw_width))
            X = self._libsvm_columns(X, start)
            yield X, self._labels(y)

    # -- dense text ----------------------------------------------------------
    def _dense_chunks(self, chunk_size):
        width = None
        for numbers, lines in self._lines(chunk_size):
            if width is None:
                width = len(lines[0].split())

            def parse(line):
                values = [float(t) for t in line.split()]
                if len(values) != width:
                    raise ValueError(f"{len(values)} values, the first line has {width}")
            try:
                data = np.loadtxt([raw.decode("utf-8") for raw in lines], ndmin=2)
            except (ValueError, UnicodeDecodeError):
                self._locate_bad_line(numbers, lines, parse)
                raise
            if data.shape[1] != width:
                self._locate_bad_line(numbers, lines, parse)
            yield data[:, 1:], self._labels(data[:, 0])

    # -- CSV -----------------------------------------------------------------
    def _csv_header(self, header):
        names = [h.strip() for h in header]
        if len(set(names)) != len(names):
            raise self._error("line 1", "repeated column names in the header")
        if self.target is None:
            target = names[0] if self.require_target or self.feature_names is None \
                or names[0] not in self.feature_names else None
        else:
            target = self.target
        if target is not None and target not in names:
            if self.require_target:
                raise self._error("line 1", f"no column {target!r} in the header "
                                  f"{names[:8]}; choose the label column with --target")
            target = None
        self.has_target = target is not None
        t_idx = names.index(target) if target is not None else None
        if self.feature_names is not None:
            missing = [n for n in self.feature_names if n not in names]
            if missing:
                raise self._error("line 1", f"the model's feature columns {missing[:5]} are "
                                  f"missing")
            f_idx = [names.index(n) for n in self.feature_names]
        else:
            f_idx = [i for i in range(len(names)) if i != t_idx]
            self.feature_names = [names[i] for i in f_idx]
        if not f_idx:
            raise self._error("line 1", "no feature columns")
        self.n_features = len(f_idx)
        return len(names), t_idx, f_idx

    def _csv_chunks(self, chunk_size):
        with _open_binary(self.path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            first = _first_line(self.path)
            delimiter = "\t" if "\t" in first and "," not in first else ","
            reader = csv.reader(text, delimiter=delimiter)
            try:
                header = next(reader)
            except (StopIteration, UnicodeDecodeError) as exc:
                raise self._error("line 1", f"no header ({exc})") from None
            width, t_idx, f_idx = self._csv_header(header)
            while True:
                rows, numbers = [], []
                try:
                    for row in reader:
                        if not row:
                            continue
                        if len(row) != width:
                            raise self._error(f"line {reader.line_num}",
                                              f"{len(row)} fields, the header has {width}")
                        rows.append(row)
                        numbers.append(reader.line_num)
                        if len(rows) == chunk_size:
                            break
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise self._error(f"line {reader.line_num}", str(exc)) from None
                if not rows:
                    return
                cells = np.array(rows, dtype=object)
                try:
                    X = cells[:, f_idx].astype(np.float64)
                except ValueError:
                    for number, row in zip(numbers, rows):
                        for i in f_idx:
                            try:
                                float(row[i])
                            except ValueError:
                                raise self._error(
                                    f"line {number}", f"column {header[i].strip()!r}: "
                                    f"{row[i]!r} is not a number") from None
                    raise
                y = self._labels(cells[:, t_idx].astype(str)) if t_idx is not None else None
                yield X, y

    # -- Parquet -------------------------------------------------------------
    def _parquet_chunks(self, chunk_size):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise CLIError('reading Parquet needs pyarrow: pip install "skce[parquet]"') \
                from None
        try:
            pf = pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises its own ArrowInvalid
            raise CLIError(f"{self.path}: not a readable Parquet file ({exc})") from None
        names = list(pf.schema_arrow.names)
        _, t_idx, f_idx = self._csv_header(names)
        columns = [names[i] for i in f_idx]
        target = names[t_idx] if t_idx is not None else None
        for batch in pf.iter_batches(batch_size=chunk_size,
                                     columns=columns + ([target] if target else [])):
            try:
                X = np.column_stack([batch.column(c).to_numpy(zero_copy_only=False)
                                     for c in columns]).astype(np.float64)
            except (ValueError, TypeError) as exc:
                raise self._error("columns", f"feature columns must be numeric ({exc})") \
                    from None
            if np.isnan(X).any():
                raise self._error("columns", "missing values (null/NaN) in the features")
            y = None
            if target:
                y = batch.column(target).to_numpy(zero_copy_only=False)
                y = self._labels(y.astype(str) if y.dtype.kind == "O" else y)
            yield X, y

    # -- npz -----------------------------------------------------------------
    def _npz_arrays(self):
        import scipy.sparse as sp

        try:
            npz = np.load(self.path, allow_pickle=False)
        except Exception as exc:  # zipfile.BadZipFile, ValueError for object arrays
            raise CLIError(f"{self.path}: not a readable .npz file ({exc})") from None
        with npz:
            keys = set(npz.files)
            ykey = self.target or "y"
            try:
                if "X" in keys:
                    X = npz["X"]
                elif {"format", "shape", "data", "indices", "indptr"} <= keys:
                    fmt = npz["format"].item()
                    fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
                    if fmt not in ("csr", "csc"):
                        raise CLIError(f"{self.path}: sparse format {fmt!r}; save CSR or CSC")
                    cls = sp.csr_matrix if fmt == "csr" else sp.csc_matrix
                    X = cls((npz["data"], npz["indices"], npz["indptr"]),
                            shape=tuple(npz["shape"])).tocsr()
                else:
                    raise CLIError(f"{self.path}: expected arrays 'X' and 'y', or a "
                                   f"scipy.sparse.save_npz matrix plus 'y'; found "
                                   f"{sorted(keys)}")
                y = npz[ykey] if ykey in keys else None
            except ValueError as exc:  # object arrays need pickle, which we never allow
                raise CLIError(f"{self.path}: {exc}") from None
        if y is None and self.require_target:
            raise CLIError(f"{self.path}: no label array {ykey!r} (arrays: {sorted(keys)})")
        self.has_target = y is not None
        if X.ndim != 2 or (y is not None and len(y) != X.shape[0]):
            raise CLIError(f"{self.path}: X must be 2-D with one label per row; got X "
                           f"{X.shape}, y {None if y is None else y.shape}")
        if not sp.issparse(X):
            if X.dtype.kind not in "fiub":
                raise CLIError(f"{self.path}: X has dtype {X.dtype}; it must be numeric")
            if X.dtype.kind != "f":
                X = X.astype(np.float64)
        self._check_width(X, "X")
        return X, (self._labels(y) if y is not None else None)

    def _npz_chunks(self, chunk_size):
        X, y = self._npz_arrays()
        self.n_features = X.shape[1]
        for lo in range(0, X.shape[0], chunk_size):
            yield X[lo:lo + chunk_size], None if y is None else y[lo:lo + chunk_size]

    # -- common --------------------------------------------------------------
    def _labels(self, y):
        try:
            return _as_labels(y, self.label_kind)
        except ValueError:
            raise CLIError(f"{self.path}: labels must be {self.label_kind}s like the "
                           f"model's; got {np.asarray(y)[:3].tolist()}...") from None

    def chunks(self, chunk_size):
        """Yield (X, y) of at most ``chunk_size`` rows (y None when the file has no labels)."""
        reader = getattr(self, f"_{self.format}_chunks")
        width = None
        for X, y in reader(int(chunk_size)):
            if self.format != "libsvm":
                if width is None:
                    width = X.shape[1]
                    if self.n_features is None:
                        self.n_features = width
                if self.n_features is not None and X.shape[1] != self.n_features:
                    raise CLIError(f"{self.path}: {X.shape[1]} features, but the model has "
                                   f"{self.n_features}")
                if not np.all(np.isfinite(X.data if hasattr(X, "nnz") else X)):
                    raise CLIError(f"{self.path}: NaN or infinite feature values")
            yield X, y

    def load(self):
        """All of the file: (X, y), X dense float64 or CSR."""
        import scipy.sparse as sp

        if self.format == "npz":
            X, y = self._npz_arrays()
            self.n_features = X.shape[1]
            return X, y
        parts = list(self.chunks(1 << 62 if self.format == "libsvm" else 65536))
        if not parts:
            raise CLIError(f"{self.path}: no data rows")
        Xs, ys = zip(*parts)
        X = sp.vstack(Xs, format="csr") if sp.issparse(Xs[0]) else np.concatenate(Xs)
        if self.format == "libsvm":
            width = X.shape[1] if self.n_features is None else self.n_features
            if X.shape[1] < width:
                X.resize((X.shape[0], width))
            self.n_features = width
        y = None if ys[0] is None else np.concatenate(ys)
        return X, y
