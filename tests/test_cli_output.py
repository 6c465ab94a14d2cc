"""`fastlr predict`'s CSV, byte for byte: what csv.writer wrote, whatever
makes it (floats as Python's repr, whole float IDs as integers, text quoted
as the csv module quotes it), for values no model gives on purpose."""

import numpy as np
import pytest

import fastlr
from fastlr import cli

#: Floats as Python's repr writes them, each with that text
FLOATS = [
    (0.1, "0.1"), (1e-05, "1e-05"), (0.0001, "0.0001"), (1e16, "1e+16"),
    (1e15, "1000000000000000.0"), (0.30000000000000004, "0.30000000000000004"),
    (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (2.2250738585072014e-308, "2.2250738585072014e-308"), (1.0, "1.0"),
    (0.0, "0.0"), (-0.0, "-0.0"), (-2.5e-07, "-2.5e-07"), (np.nan, "nan"),
    (np.inf, "inf"), (-np.inf, "-inf"), (123456789012345678.0, "1.2345678901234568e+17"),
    (9007199254740993.0, "9007199254740992.0"), (0.5, "0.5"),
]

#: Text IDs and csv.writer's field for each (quoted for a comma, a double
#: quote or a line end; a carriage return alone is not quoted by Python
#: 3.11's csv.writer, and is by later ones: not pinned here, see below)
TEXTS = [
    ("plain", "plain"), ("a,b", '"a,b"'), ('say "hi"', '"say ""hi"""'),
    ("two\nlines", '"two\nlines"'), ("", ""), (" padded ", " padded "),
    ("'single'", "'single'"), ("caf\u00e9 \u2603", "caf\u00e9 \u2603"),
    ("tab\there", "tab\there"), ('"', '""""'), (",", '","'),
    ("=1+2", "=1+2"), ("semi;colon", "semi;colon"),
]

#: Float IDs: a whole number as the integer it is, anything else as a float
FLOAT_IDS = [
    (20240101.0, "20240101"), (1e16, "10000000000000000"), (-3.0, "-3"),
    (-0.0, "0"), (0.5, "0.5"), (np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf"),
    (2.0 ** 63, "9223372036854775808"), (2.0 ** 64 + 4096, "18446744073709555712"),
    (1e300, str(int(1e300))), (1e-05, "1e-05"), (12345.678, "12345.678"),
]


@pytest.fixture
def files(tmp_path):
    """A model for two features and two classes, and an empty output folder."""
    X = np.arange(8.0).reshape(4, 2)
    fastlr.save(fastlr.LogisticRegression(max_iter=2, tol=None).fit(
        X, [0, 1, 0, 1]), tmp_path / "m.npz")
    (tmp_path / "out").mkdir()
    return tmp_path


def _predict(path, argv, capsys, monkeypatch, output_rows):
    """``fastlr predict`` on ``path``: (stdout's text, --out's bytes), checked
    to be the same, with OUTPUT_ROWS ``output_rows``."""
    monkeypatch.setattr(cli, "OUTPUT_ROWS", output_rows)
    model = str(path.parent / "m.npz")
    capsys.readouterr()
    assert cli.main(["predict", "--model", model, str(path), "--quiet", *argv]) == 0
    stdout = capsys.readouterr().out
    out = path.parent / "out" / "p.csv"
    assert cli.main(["predict", "--model", model, str(path), "--quiet", *argv,
                     "--out", str(out)]) == 0
    written = out.read_bytes()
    assert written == stdout.encode("utf-8")
    return stdout


def _npz(path, m, **ids):
    np.savez(path, X=np.zeros((m, 2)), y=np.zeros(m), **ids)
    return path


@pytest.mark.parametrize("output_rows", [1 << 16, 2])
def test_probabilities_are_written_as_python_repr(files, capsys, monkeypatch,
                                                  output_rows):
    values = np.array([v for v, _ in FLOATS])
    proba = np.column_stack([values, values[::-1]])
    monkeypatch.setattr(fastlr.LogisticRegression, "predict_proba",
                        lambda self, X: proba[:X.shape[0]])
    path = _npz(files / "d.npz", len(FLOATS))
    text = _predict(path, ["--proba"], capsys, monkeypatch, output_rows)
    want = "proba_0,proba_1\n" + "".join(
        f"{a},{b}\n" for (_, a), (_, b) in zip(FLOATS, FLOATS[::-1], strict=True))
    assert text == want


def test_float32_probabilities_are_written_as_their_doubles(files, capsys,
                                                            monkeypatch):
    proba = np.array([[0.1, 0.9], [1e-5, 1 - 1e-5]], dtype=np.float32)
    monkeypatch.setattr(fastlr.LogisticRegression, "predict_proba",
                        lambda self, X: proba)
    text = _predict(_npz(files / "d.npz", 2), ["--proba"], capsys, monkeypatch,
                    1 << 16)
    assert text == ("proba_0,proba_1\n0.10000000149011612,0.8999999761581421\n"
                    "9.999999747378752e-06,0.9999899864196777\n")


@pytest.mark.parametrize("output_rows", [1 << 16, 3])
def test_text_ids_are_quoted_as_csv_writer_quotes_them(files, capsys, monkeypatch,
                                                       output_rows):
    path = _npz(files / "d.npz", len(TEXTS), key=np.array([t for t, _ in TEXTS]))
    labels = np.array([0, 1] * len(TEXTS))[:len(TEXTS)]
    monkeypatch.setattr(fastlr.LogisticRegression, "predict",
                        lambda self, X: labels[:X.shape[0]])
    text = _predict(path, ["--id", "key"], capsys, monkeypatch, output_rows)
    want = "key,label\n" + "".join(f"{field},{label}\n" for (_, field), label
                                   in zip(TEXTS, labels.tolist(), strict=True))
    assert text == want


def test_a_carriage_return_is_written_as_csv_writer_writes_it(files, capsys,
                                                              monkeypatch):
    """(Quoted or not depending on the Python version: as csv.writer does.)"""
    import csv
    import io

    keys = ["a\rb", "\r", "ok"]
    path = _npz(files / "d.npz", 3, key=np.array(keys))
    monkeypatch.setattr(fastlr.LogisticRegression, "predict",
                        lambda self, X: np.array([True, False, True]))
    text = _predict(path, ["--id", "key"], capsys, monkeypatch, 2)
    want = io.StringIO()
    csv.writer(want, lineterminator="\n").writerows(
        [["key", "label"], *zip(keys, ["True", "False", "True"], strict=True)])
    assert text == want.getvalue()


@pytest.mark.parametrize("output_rows", [1 << 16, 4])
def test_float_ids_whole_as_integers(files, capsys, monkeypatch, output_rows):
    path = _npz(files / "d.npz", len(FLOAT_IDS), key=np.array([v for v, _ in FLOAT_IDS]))
    monkeypatch.setattr(fastlr.LogisticRegression, "predict",
                        lambda self, X: np.zeros(X.shape[0], dtype=np.int64))
    text = _predict(path, ["--id", "key"], capsys, monkeypatch, output_rows)
    assert text == "key,label\n" + "".join(f"{field},0\n" for _, field in FLOAT_IDS)


def test_an_npy_tables_float_ids(files, capsys, monkeypatch):
    ids = np.array([v for v, _ in FLOAT_IDS])
    table = np.column_stack([ids, np.zeros((len(ids), 2)), np.zeros(len(ids))])
    np.save(files / "t.npy", table)
    monkeypatch.setattr(fastlr.LogisticRegression, "predict",
                        lambda self, X: np.full(X.shape[0], -7, dtype=np.int64))
    text = _predict(files / "t.npy", ["--id", "0"], capsys, monkeypatch, 5)
    assert text == "0,label\n" + "".join(f"{field},-7\n" for _, field in FLOAT_IDS)


@pytest.mark.parametrize("key, want", [
    (np.array([-5, 0, 2 ** 62], dtype=np.int64), ["-5", "0", "4611686018427387904"]),
    (np.array([0, 2 ** 64 - 1], dtype=np.uint64), ["0", "18446744073709551615"]),
    (np.array([True, False]), ["True", "False"]),
    (np.array([b"a,b", b"plain"]), ['"b\'a,b\'"', "b'plain'"]),
    (np.array(["2024-01-02", "NaT"], dtype="datetime64[D]"), ["2024-01-02", ""]),
])
def test_ids_of_other_types(files, capsys, monkeypatch, key, want):
    path = _npz(files / "d.npz", key.shape[0], key=key)
    monkeypatch.setattr(fastlr.LogisticRegression, "predict",
                        lambda self, X: np.ones(X.shape[0], dtype=np.int64))
    text = _predict(path, ["--id", "key"], capsys, monkeypatch, 1 << 16)
    assert text == "key,label\n" + "".join(f"{field},1\n" for field in want)


@pytest.mark.parametrize("labels, want", [
    (np.array([True, False, True]), "True\nFalse\nTrue\n"),
    (np.array([3, -1, 0]), "3\n-1\n0\n"),
    (np.array([0.5, 1e16, 2.0]), "0.5\n1e+16\n2.0\n"),
    (np.array(["cat", "a,b", ""]), 'cat\n"a,b"\n""\n'),    # an empty field alone
    (np.array(["x", 'q"', "y\nz"], dtype=object), 'x\n"q"""\n"y\nz"\n'),
])
def test_labels_are_written_as_csv_writer_writes_them(files, capsys, monkeypatch,
                                                      labels, want):
    """The label alone on its row: an empty one is quoted (csv.writer's
    rule for a row of one empty field)."""
    monkeypatch.setattr(fastlr.LogisticRegression, "predict",
                        lambda self, X: labels[:X.shape[0]])
    text = _predict(_npz(files / "d.npz", 3), [], capsys, monkeypatch, 2)
    assert text == "label\n" + want


def test_class_names_in_the_header_are_quoted(tmp_path, capsys, monkeypatch):
    X = np.arange(12.0).reshape(6, 2)
    y = np.array(["a,b", 'say "x"', "plain"] * 2)
    fastlr.save(fastlr.LogisticRegression(max_iter=2, tol=None).fit(X, y),
                tmp_path / "m.npz")
    (tmp_path / "out").mkdir()
    monkeypatch.setattr(fastlr.LogisticRegression, "predict_proba",
                        lambda self, X: np.full((X.shape[0], 3), 0.25))
    text = _predict(_npz(tmp_path / "d.npz", 1, key=np.array(["k"])),
                    ["--proba", "--id", "key"], capsys, monkeypatch, 1 << 16)
    assert text == 'key,"proba_a,b",proba_plain,"proba_say ""x"""\nk,0.25,0.25,0.25\n'


def test_text_without_a_special_character_is_written_as_it_is():
    """What :func:`fastlr.cli._csv_fields` writes without the csv module: a
    character that csv.writer quotes (in this Python) and that
    ``_CSV_SPECIAL`` does not hold would be written unquoted."""
    import csv
    import io
    import sys

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        if c not in cli._CSV_SPECIAL:
            writer.writerow([c, c])
            assert out.getvalue() == f"{c},{c}\n", hex(code)
            out.seek(0)
            out.truncate()


def test_blocks_of_many_columns_hold_fewer_rows(monkeypatch):
    """A block is at most OUTPUT_FIELDS fields (300 probabilities a row
    made 65,536 rows' text at once: 2.5 GB peak RSS, 0.64 GB in blocks of
    fields), and the blocks join to the same text."""
    values = np.arange(100.0).reshape(25, 4) / 7
    whole = "".join(cli._output_csv(values, None))
    monkeypatch.setattr(cli, "OUTPUT_FIELDS", 10)
    blocks = list(cli._output_csv(values, None))
    assert [b.count("\n") for b in blocks] == [2] * 12 + [1]
    assert "".join(blocks) == whole
