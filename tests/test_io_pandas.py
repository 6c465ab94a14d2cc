"""CSV numbers parsed by pandas' C parser (pandas >= 3.1) read as NumPy's
loadtxt and the csv module read them: the same bits, errors and lines."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastlr import io
from fastlr.io import DataError

#: A CSV after its header ``a,b,label`` (the delimiter replacing the commas):
#: ``(data, delimiter, want)``, ``want`` the features of a whole read, or
#: words of its error. ``data`` is bytes; a fourth item (bytes) is a header
#: of its own.
FIELDS = "expected 3 fields (as in the header), got "

TRICKY = {
    "spaces": (b" 1 ,\t2\t, 0 \n3 , 4 ,1\n5,\x0b6\x0c,0\n", ",",
               [[1, 2], [3, 4], [5, 6]]),
    "quoted": (b'"1","2",0\n3," 4",1\n"5"6,7,"0"\n', ",", [[1, 2], [3, 4], [56, 7]]),
    "quoted_newline": (b'"1\n",2,0\n3,4,1\n', ",", [[1, 2], [3, 4]]),
    "crlf": (b"1,2,0\r\n3,4,1\r\n", ",", [[1, 2], [3, 4]]),
    "cr": (b"1,2,0\r3,4,1\r", ",", [[1, 2], [3, 4]]),
    "bom": (b"1,2,0\n", ",", [[1, 2]], b"\xef\xbb\xbfa,b,label\n"),
    "bom_on_a_row": (b"\xef\xbb\xbf1,2,0\n3,4,1\n", ",",
                     "column 'a': '\\ufeff1' is not a number"),
    "blank_lines": (b"\n1,2,0\n\n\r\n3,4,1\n\n", ",", [[1, 2], [3, 4]]),
    "blank_line_first": (b"\n1,2,0\n3,4,1\n", ",", [[1, 2], [3, 4]]),
    "spaces_line": (b"1,2,0\n \n3,4,1\n", ",", f"line 3: {FIELDS}1"),
    "tab_line": (b"1,2,0\n3,4,1\n\t\n", ",", f"line 4: {FIELDS}1"),
    "header_on_two_lines": (b"1,2,0\n3,4,1\n", ",",
                            [[1, 2], [3, 4]], b'"a\nA",b,label\n'),
    "nul": (b"1,2,0\n3,4\x00,1\n", ",", "line 3: column 'b': '4\\x00' is not a number"),
    "nul_field": (b"1,2,0\n\x00,4,1\n", ",",
                  "line 3: column 'a': '\\x00' is not a number"),
    "not_utf8": (b"1,2,0\n3,\xff,1\n", ",", "line 3: is not UTF-8 text"),
    "digit_group": (b"1,2,0\n1_0,4,1\n", ",", "column 'a': '1_0' is not a number"),
    "arabic_digits": ("1,2,0\n\u0661\u0662,4,1\n".encode(), ",",
                      "column 'a': '١٢' is not a number"),
    "fortran_exponent": (b"1,2,0\n1d5,4,1\n", ",", "column 'a': '1d5' is not a number"),
    "hex": (b"1,2,0\n0x10,4,1\n", ",", "column 'a': '0x10' is not a number"),
    "signs_and_points": (b".5,5.,0\n+1,-0,1\n-.5,+.5,0\n", ",",
                         [[0.5, 5], [1, -0.0], [-0.5, 0.5]]),
    "zeros": (b"-0,0,0\n0,-0,1\n00,-00,0\n", ",", [[-0.0, 0], [0, -0.0], [0, -0.0]]),
    "big_integers": (b"9007199254740993,18446744073709551617,0\n"
                     b"123456789012345678901234567890,-9223372036854775809,1\n", ",",
                     [[float("9007199254740993"), float("18446744073709551617")],
                      [float("123456789012345678901234567890"),
                       float("-9223372036854775809")]]),
    "long_mantissas": (("0." + "3" * 400 + ",1e-320,0\n" + "7" * 30 + "." + "1" * 50
                        + "e-40,2.4703282292062328e-324,1\n").encode(), ",",
                       [[float("0." + "3" * 400), 1e-320],
                        [float("7" * 30 + "." + "1" * 50 + "e-40"), 5e-324]]),
    "overflow": (b"1,2,0\n1e500,4,1\n", ",",
                 "column 'a': '1e500' is not a finite number"),
    "underflow": (b"1e-400,2,0\n", ",", [[0.0, 2]]),
    "nan": (b"1,2,0\nnan,4,1\n", ",", "column 'a': 'nan' is not a finite number"),
    "inf": (b"1,2,0\n3,-Infinity,1\n", ",", "column 'b': '-Infinity' is not a finite"),
    "NA": (b"1,2,0\nNA,4,1\n", ",", "column 'a': 'NA' is not a number"),
    "null": (b"1,2,0\nnull,4,1\n", ",", "column 'a': 'null' is not a number"),
    "None": (b"1,2,0\nNone,4,1\n", ",", "column 'a': 'None' is not a number"),
    "#N/A": (b"1,2,0\n#N/A,4,1\n", ",", "column 'a': '#N/A' is not a number"),
    "empty": (b"1,2,0\n,4,1\n", ",", "line 3: empty value in column 'a'"),
    "true": (b"1,2,0\nTrue,4,1\n", ",", "column 'a': 'True' is not a number"),
    "booleans": (b"True,2,0\nfalse,4,1\nFALSE,5,0\n", ",",
                 "line 2: column 'a': 'True' is not a number"),
    "booleans_later": (b"1,2,0\n" + b"".join(b"%s,%d,%d\n" % (w, i, i % 2) for i, w in
                                           enumerate([b"True", b"False"] * 3)), ",",
                       "line 3: column 'a': 'True' is not a number"),
    "short_row": (b"1,2,0\n3,4\n", ",", f"line 3: {FIELDS}2"),
    "long_row": (b"1,2,0\n3,4,1,5\n", ",", f"line 3: {FIELDS}4"),
    "long_first_row": (b"1,2,0,9\n3,4,1\n", ",", f"line 2: {FIELDS}4"),
    "open_quote": (b'1,2,0\n"3,4,1\n5,6,0\n', ",", "line 3: expected 3 fields"),
    "no_final_break": (b"1,2,0\n3,4,1", ",", [[1, 2], [3, 4]]),
    "one_row": (b"1.25,-2e3,1\n", ",", [[1.25, -2000]]),
    "tab": (b"1\t 2\t0\n3\t4\t1\n", "\t", [[1, 2], [3, 4]]),
    "semicolon": (b"1.5;2;0\n3;4;1\n", ";", [[1.5, 2], [3, 4]]),
    "pipe": (b"1.5|2|0\n3|4|1\n", "|", [[1.5, 2], [3, 4]]),
    "dot": (b"1.2.0\n3.4.1\n", ".", [[1, 2], [3, 4]]),
    "space": (b"1.5 2 0\n3 4 1\n", " ", [[1.5, 2], [3, 4]]),
    "space_doubled": (b"1.5 2 0\n3  4 1\n", " ", f"line 3: {FIELDS}4"),
    "letter_e": (b"1e2e0\n3e4e1\n", "e", [[1, 2], [3, 4]], b"aebey\n"),
    "float_labels": (b"1,2,0.5\n3,4,1.5\n", ",", [[1, 2], [3, 4]]),
    "text_labels": (b"1,2,setosa\n3,4,virginica\n", ",", [[1, 2], [3, 4]]),
    "boolean_labels": (b"1,2,True\n3,4,False\n", ",", [[1, 2], [3, 4]]),
    "big_labels": (b"1,2,9007199254740993\n3,4,9007199254740992\n", ",",
                   [[1, 2], [3, 4]]),
    # \x1c-\x1f: whitespace to np.loadtxt, not to float() or the csv module
    "x1c": (b"1,3\x1c,0\n", ",", "line 2: column 'b': '3\\x1c' is not a number"),
    "x1f_before": (b"1,2,0\n\x1f3,4,1\n", ",",
                   "line 3: column 'a': '\\x1f3' is not a number"),
    "x1d_quoted": (b'1,2,0\n3,"\x1d4",1\n', ",",
                   "line 3: column 'b': '\\x1d4' is not a number"),
    "x1e_labels": (b"1,2,\x1e0\n3,4,1\x1f\n", ",", [[1, 2], [3, 4]]),
}


def _file(tmp_path, case):
    data, delimiter, want, *header = TRICKY[case]
    header = header[0] if header else "a,b,label\n".replace(",", delimiter).encode()
    path = tmp_path / "d.csv"
    path.write_bytes(header + data)
    return path, delimiter, want


def _parser(monkeypatch, parser):
    """Parse CSV numbers with ``parser``: "pandas" (for every file, a row or
    two at a time), "numpy" (np.loadtxt), or "exact" (the csv module, row by
    row)."""
    monkeypatch.setattr(io, "_PANDAS_FROM", 0 if parser == "pandas" else None,
                        raising=False)
    monkeypatch.setattr(io, "_PANDAS_BLOCK", 0, raising=False)
    monkeypatch.setattr(io, "_PANDAS_FIELDS", 5, raising=False)
    monkeypatch.setattr(io, "_PANDAS_WIDTH", 10**6, raising=False)
    if parser == "exact":
        def refuse(*args, **kwargs):
            raise ValueError("refused")
        monkeypatch.setattr(np, "loadtxt", refuse)


def _outcome(read):
    try:
        return read()
    except DataError as exc:
        return ("error", str(exc))


def _reads(path, delimiter):
    """What each way of reading ``path`` gives: the bits and types of X,
    the labels and a kept column, part by part, or the error."""
    def whole(**kw):
        ds = io.read_dataset(path, delimiter=delimiter, **kw)
        return (ds.X.tobytes(), ds.X.shape, ds.X.flags.c_contiguous, ds.feature_names,
                None if ds.y is None else (ds.y.tobytes(), ds.y.dtype.str,
                                           ds.y.tolist()))

    def parts(chunk_rows, **kw):
        got = []
        try:
            for X, y, kept in io.open_chunks(path, chunk_rows, delimiter=delimiter,
                                             **kw)[1]:
                got.append((X.tobytes(), X.shape, X.flags.c_contiguous,
                            None if y is None else (y.tobytes(), y.dtype.str),
                            None if kept is None else kept.tolist()))
        except DataError as exc:
            got.append(("error", str(exc)))
        return got

    return {
        "whole": _outcome(whole),
        "text_labels": _outcome(lambda: whole(text_labels=True)),
        "no_labels": _outcome(lambda: whole(labels="ignore")),
        "target_a": _outcome(lambda: whole(target="a")),
        **{f"parts_{n}": parts(n) for n in (1, 2, 1000)},
        "parts_kept": parts(2, keep="label", labels="ignore"),
        "parts_text": parts(3, text_labels=True),
    }


@pytest.mark.parametrize("case", list(TRICKY))
@pytest.mark.parametrize("parser", ["pandas", "numpy"])
def test_csv_c_parsers_read_tricky_files_as_the_csv_module(tmp_path, monkeypatch,
                                                           case, parser):
    """Whole reads and reads in parts, with pandas' parser (pandas >= 3.1) or
    NumPy's loadtxt behind them, give what the csv module row by row gives:
    the same bits of X (-0.0, integers beyond 2**53, digits beyond 17), the
    same labels and kept text, the same error with its line: for spaces and
    quotes around numbers, line breaks, byte-order marks, blank lines and
    lines of spaces, a header on two lines, NUL bytes, bytes beyond UTF-8,
    what float() takes and NumPy does not, numbers among \\x1c-\\x1f (which
    np.loadtxt strips as whitespace: a whole read took them, a read in
    parts refused them), NA words, booleans (pandas reads a part's column
    of them as 1.0 and 0.0; its parts are a row here), rows too short or
    long, other delimiters and labels of numbers or text."""
    path, delimiter, want = _file(tmp_path, case)
    with monkeypatch.context() as m:
        _parser(m, "exact")
        exact = _reads(path, delimiter)
    _parser(monkeypatch, parser)
    assert _reads(path, delimiter) == exact
    if isinstance(want, str):   # (the label is a feature too)
        assert exact["no_labels"][0] == "error" and want in exact["no_labels"][1]
    else:
        X = np.frombuffer(exact["whole"][0]).reshape(-1, 2)
        assert X.tobytes() == np.array(want, dtype=np.float64).tobytes()


@pytest.mark.parametrize("parser", ["pandas", "numpy"])
def test_csv_c_parsers_read_10000_columns(tmp_path, monkeypatch, parser):
    """Rows of 10,000 numbers (which pandas parses only when told to)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 10_000))
    path = tmp_path / "wide.csv"
    with open(path, "w") as f:
        f.write(",".join(f"x{j}" for j in range(10_000)) + ",label\n")
        for i, row in enumerate(X):
            f.write(",".join(map(repr, row.tolist())) + f",{i % 3}\n")
    with monkeypatch.context() as m:
        _parser(m, "exact")
        exact = io.read_dataset(path)
    _parser(monkeypatch, parser)
    monkeypatch.setattr(io, "_PANDAS_FIELDS", 1 << 20, raising=False)  # 104 rows
    ds = io.read_dataset(path)
    assert ds.X.tobytes() == exact.X.tobytes() == X.tobytes()
    assert ds.y.tolist() == exact.y.tolist() == [i % 3 for i in range(120)]
    parts = list(io.iter_chunks(path, 50, drop=["x3"]))
    assert np.concatenate([p[0] for p in parts]).tobytes() == \
        np.delete(X, 3, axis=1).tobytes()


def test_csv_numbers_are_parsed_by_pandas_when_it_is_installed(tmp_path, monkeypatch):
    """With pandas 3.1 or later, whole reads and reads in parts parse their
    numbers with ``pandas.read_csv``; with an older pandas (not correctly
    rounded) or none (its import fails), with np.loadtxt; the same bits
    every way."""
    pd = pytest.importorskip("pandas")
    if io._pandas(0) is None:
        pytest.skip("pandas < 3.1")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3))
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,label\n" + "".join(
        ",".join(f"{v:.17g}" for v in row) + f",{i % 2}\n" for i, row in enumerate(X)))
    calls = []
    read_csv = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **kw: calls.append(1) or
                        read_csv(*a, **kw))

    def read():
        calls.clear()
        whole = io.read_dataset(path).X
        parts = np.concatenate([p[0] for p in io.iter_chunks(path, 128)])
        assert whole.tobytes() == parts.tobytes() == X.tobytes()
        return len(calls)

    monkeypatch.setattr(io, "_PANDAS_FROM", 0, raising=False)
    monkeypatch.setattr(io, "_PANDAS_BLOCK", 0, raising=False)
    assert read() == 1 + 4   # the whole file, then its 4 parts
    # a text label's letters (of True and false) are no boolean: not parsed
    text = tmp_path / "text.csv"
    text.write_text("a,b,label\n" + "".join(
        f"{i}.5,{i},{'setosa' if i % 2 else 'virginica'}\n" for i in range(300)))
    calls.clear()
    parts = list(io.iter_chunks(text, 100))
    assert len(calls) == 3 and [p[1][0] for p in parts] == ["virginica"] * 3
    for version in ("2.2.3", "3.0.2"):
        monkeypatch.setattr(pd, "__version__", version)
        assert read() == 0
    monkeypatch.undo()
    monkeypatch.setattr(pd, "read_csv", lambda *a, **kw: calls.append(1) or
                        read_csv(*a, **kw))
    monkeypatch.setattr(io, "_PANDAS_FROM", 0)
    # a block of text under io._PANDAS_BLOCK is left to np.loadtxt (parts of
    # a row took 25 times as long with pandas)
    assert read() == 1
    monkeypatch.setitem(sys.modules, "pandas", None)   # import pandas fails
    assert read() == 0


def test_a_broken_pandas_is_not_used(tmp_path, monkeypatch):
    """An import of pandas that fails otherwise than by its absence (numpy's
    "dtype size changed") made every large CSV fail to read; now np.loadtxt
    parses it, and the import is not tried again."""
    import builtins

    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1.5,2,0\n3,4.25,1\n")
    real = builtins.__import__
    tried = []

    def broken(name, *args, **kwargs):
        if name == "pandas":
            tried.append(name)
            raise ValueError("numpy.dtype size changed, may indicate binary "
                             "incompatibility")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(io, "_PANDAS_FROM", 0)
    monkeypatch.setattr(io, "_pandas_broken", False, raising=False)
    monkeypatch.delitem(sys.modules, "pandas", raising=False)
    monkeypatch.setattr(builtins, "__import__", broken)
    for _ in range(2):
        np.testing.assert_array_equal(io.read_dataset(path).X, [[1.5, 2], [3, 4.25]])
    assert tried == ["pandas"]


def test_a_file_replaced_during_a_read_is_read_from_one_opening(tmp_path,
                                                                monkeypatch):
    """The data's offset was found in one opening of the file and the
    numbers read from another: a file replaced between them was read from
    the first one's offset, its first row 1234 read as 34."""
    pytest.importorskip("pandas")
    if io._pandas(0) is None:
        pytest.skip("pandas < 3.1")
    path, other = tmp_path / "d.csv", tmp_path / "other.csv"
    path.write_text("a_long_header_name,b\n1.5,2\n")
    other.write_text("a,b\n1234,5\n")
    line_start = io._line_start

    def replaced(*args):
        out = line_start(*args)
        os.replace(other, path)
        return out

    monkeypatch.setattr(io, "_PANDAS_FROM", 0)
    monkeypatch.setattr(io, "_line_start", replaced)
    table = io._c_parse(str(path), ",", 100, skip=1)
    assert table.tolist() == [[1.5, 2.0]]


def test_pandas_keeps_the_columns_in_the_order_asked(monkeypatch):
    """usecols in another order than the file's (a model's features): pandas
    reads them sorted, and they are put back in the order asked."""
    pytest.importorskip("pandas")
    if io._pandas(0) is None:
        pytest.skip("pandas < 3.1")
    monkeypatch.setattr(io, "_PANDAS_FROM", 0)
    monkeypatch.setattr(io, "_PANDAS_BLOCK", 0)
    calls = []
    parse = io._pandas_parse
    monkeypatch.setattr(io, "_pandas_parse",
                        lambda *a: calls.append(1) or parse(*a))
    lines = ["1,2,3,4\n", "5,6,7,8\n"]
    table = io._c_parse(lines, ",", 100, usecols=[3, 0, 2])
    assert calls and table.tolist() == [[4.0, 1.0, 3.0], [8.0, 5.0, 7.0]]


def test_pandas_is_imported_only_to_parse_a_large_csv(tmp_path):
    """Importing fastlr, and reading a small CSV, does not import pandas
    (about 0.5 s); a CSV from io._PANDAS_FROM bytes on does."""
    pytest.importorskip("pandas")
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n3,4,1\n")
    code = textwrap.dedent(f"""
        import sys
        import fastlr, fastlr.io
        fastlr.io.read_dataset({str(path)!r})
        list(fastlr.io.iter_chunks({str(path)!r}, 1))
        print("pandas" in sys.modules)
        fastlr.io._PANDAS_FROM = 10
        fastlr.io.read_dataset({str(path)!r})
        print("pandas" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
