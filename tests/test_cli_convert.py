"""``fastlr convert``: a data file written as a float .npy table (features,
then the label), read in parts, for ``fastlr train`` to memory-map.

The table must hold exactly what a whole read of the file gives: its X and
y, bit for bit (float32: their float32 casts); a model trained on it by a
solver that reads the table whole is then the model of the file itself.
"""

import os

import numpy as np
import pytest

import fastlr
from fastlr import cli, io


def write_csv(path, X, y, ids=None):
    with open(path, "w") as f:
        head = ([] if ids is None else ["id"]) + [f"f{j}" for j in
                                                  range(X.shape[1])] + ["label"]
        f.write(",".join(head) + "\n")
        for i, (row, label) in enumerate(zip(X.tolist(), y.tolist(), strict=True)):
            first = [] if ids is None else [ids[i]]
            f.write(",".join([*first, *map(repr, row), str(label)]) + "\n")


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(700, 5)) * [1, 10, 1e-3, 1e6, 1] + [0, 0, 1, -1e6, 7]
    y = (X[:, 0] + rng.logistic(size=700) > 0).astype(np.int64)
    write_csv(tmp_path / "d.csv", X, y, ids=[f"row {i}" for i in range(700)])
    return tmp_path, X, y


def convert(capsys, *argv):
    code = cli.main(["convert", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("rows", [1, 64, 700, None])
def test_a_csv_table_is_the_whole_read(capsys, data, rows):
    d, X, y = data
    extra = [] if rows is None else ["--chunk-rows", rows]
    code, out, err = convert(capsys, d / "d.csv", "--id", "id", "--out",
                             d / "t.npy", *extra)
    assert code == 0, err
    table = np.load(d / "t.npy")
    whole = io.read_dataset(d / "d.csv", drop=["id"])
    assert table.dtype == np.float64 and table.shape == (700, 6)
    np.testing.assert_array_equal(table[:, :5], whole.X)
    np.testing.assert_array_equal(table[:, 5], whole.y)
    assert "700 x 6 float64" in out and "the label column 'label' is the last" in out


def test_float32_and_svmlight(capsys, tmp_path):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 7)) * (rng.random((300, 7)) < 0.3)
    y = rng.integers(0, 3, 300)
    with open(tmp_path / "d.svm", "w") as f:
        for row, label in zip(X.tolist(), y.tolist(), strict=True):
            f.write(f"{label} " + " ".join(f"{j + 1}:{v!r}" for j, v in
                                           enumerate(row) if v) + "\n")
    code, out, err = convert(capsys, tmp_path / "d.svm", "--out", tmp_path / "s.npy",
                             "--dtype", "float32", "--chunk-rows", 7)
    assert code == 0, err
    whole = io.read_dataset(tmp_path / "d.svm")
    table = np.load(tmp_path / "s.npy")
    assert table.dtype == np.float32
    np.testing.assert_array_equal(table[:, :-1], whole.X.toarray().astype(np.float32))
    np.testing.assert_array_equal(table[:, -1], whole.y)


def test_trained_on_the_table_it_is_the_files_model(capsys, data):
    """lbfgs reads the table whole: the model of the CSV read whole, and
    its predictions on the CSV (by position) the same."""
    d, X, y = data
    assert convert(capsys, d / "d.csv", "--id", "id", "--out", d / "t.npy")[0] == 0
    for src, model in ((d / "t.npy", "a.npz"), (d / "d.csv", "b.npz")):
        extra = ["--id", "id"] if src.suffix == ".csv" else []
        assert cli.main(["train", str(src), "--solver", "lbfgs", "--quiet",
                         "--model", str(d / model), *extra]) == 0
    capsys.readouterr()
    preds = []
    for model in ("a.npz", "b.npz"):
        assert cli.main(["predict", str(d / "d.csv"), "--model", str(d / model),
                         "--by-position", "--proba", "--id", "id"]) == 0
        preds.append(capsys.readouterr().out)
    assert preds[0] == preds[1]


def test_refusals_write_nothing(capsys, data):
    d, X, y = data
    with open(d / "text.csv", "w") as f:
        f.write("a,label\n1.5,yes\n2.5,no\n")
    (d / "old.npy").write_bytes(b"kept")
    code, _, err = convert(capsys, d / "text.csv", "--out", d / "old.npy")
    assert code == 1
    assert "the labels are text (no, yes): an .npy table holds numbers only" in err
    assert (d / "old.npy").read_bytes() == b"kept"
    code, _, err = convert(capsys, d / "d.csv", "--out", d / "t.csv")
    assert code == 1 and "--out: " in err and "name the file .npy" in err
    with open(d / "big.csv", "w") as f:
        f.write("a,label\n1.5,16777217\n2.5,0\n")
    code, _, err = convert(capsys, d / "big.csv", "--out", d / "b.npy", "--dtype",
                           "float32")
    assert code == 1 and "the label 16777217 is not exactly a float32" in err
    assert not os.path.exists(d / "b.npy")
    code, _, err = convert(capsys, d / "d.csv", "--out", d / "d.csv.npy", "--target",
                           "nope")
    assert code == 1 and "nope" in err
    assert sorted(os.listdir(d)) == ["big.csv", "d.csv", "old.npy", "text.csv"]


def test_no_room_is_said_before_any_work(capsys, data, monkeypatch):
    import shutil

    d, X, y = data
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(
        1 << 30, 1 << 30, 1000))
    code, _, err = convert(capsys, d / "d.csv", "--id", "id", "--out", d / "t.npy")
    assert code == 1
    assert "--out: " in err and "the table would take up to" in err and "free" in err
    assert not os.path.exists(d / "t.npy")


def test_training_a_csv_in_parts_points_to_convert(capsys, data):
    d, X, y = data
    for epochs, said in ((2, True), (1, False)):
        assert cli.main(["train", str(d / "d.csv"), "--id", "id", "--chunk-rows",
                         "100", "--solver", "sgd", "--epochs", str(epochs),
                         "--quiet"]) == 0
        out = capsys.readouterr().out
        assert ("to parse it once, not every epoch: fastlr convert "
                f"{d / 'd.csv'} --id id --out TABLE.npy" in out) is said
    # text labels: a table holds numbers, and convert refuses them
    write_csv(d / "t.csv", X, np.array(["no", "yes"])[y])
    assert cli.main(["train", str(d / "t.csv"), "--chunk-rows", "100", "--solver",
                     "sgd", "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "in 7 chunks" in out and "fastlr convert" not in out


def test_float32_range_is_said(capsys, tmp_path):
    """--dtype float32: a feature beyond its range became inf in the table
    (training on it then refused it); a label beyond it, a warning of
    numpy's overflow before the error."""
    with open(tmp_path / "d.csv", "w") as f:
        f.write("a,b,label\n1,2,0\n3,4e39,1\n5,6,1e300\n")
    code, _, err = convert(capsys, tmp_path / "d.csv", "--out", tmp_path / "t.npy",
                           "--dtype", "float32", "--chunk-rows", 1)
    assert code == 1
    assert err == (f"fastlr: error: {tmp_path / 'd.csv'}: row 2 holds a feature "
                   "beyond float32's range (about 3.4e+38); use --dtype float64\n")
    with open(tmp_path / "d.csv", "w") as f:
        f.write("a,b,label\n1,2,0\n5,6,1e300\n")
    code, _, err = convert(capsys, tmp_path / "d.csv", "--out", tmp_path / "t.npy",
                           "--dtype", "float32")
    assert code == 1 and err.count("\n") == 1 and "the label 1e+300 is not" in err
    assert not os.path.exists(tmp_path / "t.npy")


def test_the_hint_reads_the_file_as_the_table_was_made(capsys, tmp_path):
    """A label in the middle of the CSV: --by-position alone (as the first
    hint said) took the label for a feature and the last column for the
    label, silently; the options convert prints give the CSV's own model's
    predictions."""
    import shlex

    rng = np.random.default_rng(8)
    with open(tmp_path / "mid.csv", "w") as f:
        f.write("id,a,label,b\n")
        for i in range(300):
            a, b = rng.normal(size=2).tolist()
            f.write(f"r{i},{a!r},{int(a - b + rng.logistic() > 0)},{b!r}\n")
    code, out, err = convert(capsys, tmp_path / "mid.csv", "--target", "label", "--id",
                             "id", "--out", tmp_path / "t.npy")
    assert code == 0, err
    hint = out.split(" with its model, pass ", 1)[1].split(" (without them", 1)[0]
    assert hint == "--target label --id id --by-position"
    for src, model, extra in ((tmp_path / "t.npy", "a.npz", []),
                              (tmp_path / "mid.csv", "b.npz",
                               ["--target", "label", "--id", "id"])):
        assert cli.main(["train", str(src), "--solver", "lbfgs", "--quiet",
                         "--model", str(tmp_path / model), *extra]) == 0
    capsys.readouterr()
    preds = []
    for model, extra in (("a.npz", shlex.split(hint)), ("b.npz", [])):
        assert cli.main(["predict", str(tmp_path / "mid.csv"), "--model",
                         str(tmp_path / model), "--proba", *extra]) == 0
        preds.append(capsys.readouterr().out)
    assert preds[0] == preds[1]


def test_the_hint_for_a_numbered_header_can_be_typed(capsys, tmp_path):
    """pandas' header of a DataFrame without column names (",0,1,2"): the
    hint said --target 2, which names the label and indexes a feature, and
    was then refused as ambiguous; it gives the label unambiguously."""
    import shlex

    rng = np.random.default_rng(3)
    with open(tmp_path / "n.csv", "w") as f:
        f.write(",0,1,2\n")
        for i in range(200):
            a, b = rng.normal(size=2).tolist()
            f.write(f"{i},{a!r},{b!r},{int(a - b > 0)}\n")
    code, out, err = convert(capsys, tmp_path / "n.csv", "--target=-1", "--drop",
                             "Unnamed: 0", "--out", tmp_path / "t.npy")
    assert code == 0, err
    hint = out.split(" with its model, pass ", 1)[1].split(" (without them", 1)[0]
    assert hint == "--target=-1 --drop 'Unnamed: 0' --by-position"
    assert cli.main(["train", str(tmp_path / "t.npy"), "--quiet", "--model",
                     str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "n.csv"), "--model",
                     str(tmp_path / "m.npz"), *shlex.split(hint)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_the_room_asked_for_leaves_out_the_dropped_columns(capsys, tmp_path,
                                                           monkeypatch):
    """The table holds the features and the label only: 100 rows of 2
    columns ask for at most 101 lines x 16 bytes, not the CSV's 22 columns
    (refused with 5,000 bytes free)."""
    import shutil

    with open(tmp_path / "d.csv", "w") as f:
        f.write(",".join(["a", *[f"x{j}" for j in range(20)], "label"]) + "\n")
        for i in range(100):
            f.write(",".join([str(i), *["text"] * 20, str(i % 2)]) + "\n")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(
        1 << 30, 1 << 30, 5000))
    drop = ",".join(f"x{j}" for j in range(20))
    code, out, err = convert(capsys, tmp_path / "d.csv", "--drop", drop, "--out",
                             tmp_path / "t.npy")
    assert code == 0, err
    assert np.load(tmp_path / "t.npy").shape == (100, 2)


def test_the_convert_hint_gives_a_name_with_a_comma_by_itself(capsys, tmp_path):
    """Joined with the other --drop columns ('Customer, ID,note'), the
    name would be split again, and the suggested command refused."""
    rng = np.random.default_rng(3)
    path = tmp_path / "c.csv"
    with open(path, "w") as f:
        f.write('"Customer, ID",note,x,label\n')
        for i in range(200):
            f.write(f"C{i},n,{rng.normal():.6f},{i % 2}\n")
    assert cli.main(["train", str(path), "--drop", "Customer, ID", "--drop", "note",
                     "--chunk-rows", "100", "--solver", "sgd", "--epochs", "2",
                     "--quiet"]) == 0
    out = capsys.readouterr().out
    hint = f"fastlr convert {path} --drop note --drop 'Customer, ID' --out TABLE.npy"
    assert hint in out, out
    code, _, err = convert(capsys, path, "--drop", "note", "--drop", "Customer, ID",
                           "--out", tmp_path / "t.npy")
    assert code == 0, err
    assert np.load(tmp_path / "t.npy").shape == (200, 2)


@pytest.mark.parametrize("index,dtype,available", [
    (150_000_000, "float64", 1 << 30), (2**31 - 1, "float32", 4 << 30)])
def test_a_row_wider_than_memory_is_refused_before_any_work(
        capsys, tmp_path, monkeypatch, index, dtype, available):
    """Each part of the table is at least one dense row: a 46-byte file
    with index 1e9 took 8 GB of memory (and 16 GB of disk) as a table, one
    at index 2**31-1 would need 8.6 GB a row as float32. The row is weighed
    against the memory available (set here, so that the test means the
    same on any machine), as train weighs a model's width, before anything
    is read or written."""
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: available)
    data = tmp_path / "huge.svm"
    data.write_text(f"1 1:0.5 {index}:2\n-1 2:1\n")
    (tmp_path / "t.npy").write_bytes(b"kept")
    code, out, err = convert(capsys, data, "--out", tmp_path / "t.npy", "--dtype", dtype)
    assert code == 1 and out == ""
    row = (index + 1) * np.dtype(dtype).itemsize
    assert err == (f"fastlr: error: out of memory: converting {data} to a dense .npy "
                   "table (svmlight data stays sparse when trained on directly, "
                   f"without a table) of {index + 1:,} columns (its largest feature "
                   f"index and the label), {row:,} bytes a row, 1 row at a time "
                   f"would need about {row / 2**30:,.1f} GiB of memory, more than "
                   f"the {available / 2**30:.1f} GiB available\n")
    assert (tmp_path / "t.npy").read_bytes() == b"kept"
    assert sorted(os.listdir(tmp_path)) == ["huge.svm", "t.npy"]


def test_parts_of_many_rows_are_weighed_as_the_rows_asked_for(capsys, tmp_path,
                                                             monkeypatch):
    """--chunk-rows sets the rows a part holds, at most the file's: 20 rows
    of 80,000,008 bytes (index 1e7) are 1.5 GiB, refused where 1 GiB is
    available (one row at a time, the default for rows that wide, fits)."""
    monkeypatch.setattr("fastlr._validation.available_memory", lambda: 1 << 30)
    data = tmp_path / "d.svm"
    data.write_text("".join(f"{i % 2} {i + 1}:1 10000000:2\n" for i in range(20)))
    code, out, err = convert(capsys, data, "--out", tmp_path / "t.npy",
                             "--chunk-rows", 50)
    assert code == 1 and not os.path.exists(tmp_path / "t.npy")
    assert err.endswith("of 10,000,001 columns (its largest feature index and the "
                        "label), 80,000,008 bytes a row, 20 rows at a time would "
                        "need about 1.5 GiB of memory, more than the 1.0 GiB "
                        "available\n"), err


def test_a_table_much_larger_than_its_file_is_said(capsys, tmp_path, data):
    """The table is dense: an svmlight file of a few entries a row over
    1,000 features becomes a table hundreds of times its size, which the
    summary says, with the way to train without it; a CSV's table (about
    its size) is not remarked on."""
    path = tmp_path / "s.svm"
    path.write_text("".join(f"{i % 2} {i % 7 + 1}:1.5 1000:-2\n" for i in range(200)))
    code, out, err = convert(capsys, path, "--out", tmp_path / "s.npy")
    assert code == 0, err
    size = os.path.getsize(tmp_path / "s.npy")
    assert size == 128 + 200 * 1001 * 8
    ratio = size / os.path.getsize(path)
    assert f"\nlarger:  the table is {ratio:,.0f} times the size of {path} (dense: " \
           "every zero is stored); svmlight data trains on the file itself, " \
           "sparse, without a table\n" in out, out
    d, X, y = data
    code, out, err = convert(capsys, d / "d.csv", "--id", "id", "--out", d / "t.npy")
    assert code == 0 and "larger:" not in out and "times the size" not in out


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_the_next_command_of_an_svmlight_file_trains_its_model(capsys, tmp_path,
                                                               solver):
    """An svmlight file is sparse, trained on as it is by default, and its
    table dense, standardized by default: the command convert suggested
    trained another model (SGD: coefficients 0.45 apart on a9a). Its
    --standardize no gives the file's own model; the advice on the
    index base says what reading without it does (the CSV's words, "other
    columns would be its features", are not true of svmlight)."""
    import shlex

    rng = np.random.default_rng(9)
    X = rng.normal(size=(400, 6)) * (rng.random((400, 6)) < 0.4) + [0, 0, 0, 0, 0, 3]
    y = (X[:, 0] - X[:, 5] + rng.logistic(size=400) > -3).astype(int)
    with open(tmp_path / "d.svm", "w") as f:
        for row, label in zip(X.tolist(), y.tolist(), strict=True):
            f.write(f"{label} " + " ".join(f"{j + 1}:{v!r}" for j, v in
                                           enumerate(row) if v) + "\n")
    code, out, err = convert(capsys, tmp_path / "d.svm", "--out", tmp_path / "t.npy")
    assert code == 0, err
    nxt = out.split("\nnext:", 1)[1].strip()
    command, why, hint = nxt.split("; ", 2)
    # (the command runs as printed: pasted, prose inside it broke the shell)
    assert command == f"fastlr train {tmp_path / 't.npy'} --standardize no"
    assert why == ("that is the model of the svmlight file itself (raw features: "
                   "the default leaves sparse data as it is)")
    assert hint == (f"to predict or evaluate files laid out as {tmp_path / 'd.svm'} "
                    "with its model, pass --zero-based no (without --zero-based, "
                    "each file's index base is guessed from it: 0-based where it "
                    "holds index 0, else 1-based)")
    train = shlex.split(command)[2:]
    models = []
    for argv in (train, [str(tmp_path / "d.svm")]):
        model = tmp_path / f"m{len(models)}.npz"
        assert cli.main(["train", *argv, "--solver", solver, "--epochs", "5",
                         "--quiet", "--model", str(model)]) == 0, argv
        models.append(fastlr.load(model))
    np.testing.assert_allclose(models[0].coef_, models[1].coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(models[0].intercept_, models[1].intercept_, rtol=0,
                               atol=1e-10)


def test_a_table_convert_cannot_size_is_refused_as_a_read_refuses_it(capsys, tmp_path):
    """An .npy of no columns and a CSV column dropped under two names gave
    'unexpected ZeroDivisionError'; an .npy of another shape 'unsupported
    operand type(s) for -=', where train names the array's shape."""
    np.save(tmp_path / "m0.npy", np.zeros((5, 0)))
    np.save(tmp_path / "d1.npy", np.zeros(5))
    (tmp_path / "two.csv").write_text("a,b\n1,0\n2,1\n3,0\n")
    out = tmp_path / "t.npy"
    for argv, words in (
            ([tmp_path / "m0.npy"], "has no feature columns besides the target"),
            ([tmp_path / "two.csv", "--drop", "a", "--drop", "0"],
             "has no feature columns besides the target"),
            ([tmp_path / "d1.npy"], "the array must be 2-D (rows, columns), got "
                                    "shape (5,)")):
        code, _, err = convert(capsys, *argv, "--out", out)
        assert code == 1 and err == f"fastlr: error: {argv[0]}: {words}\n", err
    assert not out.exists()
    # a column given twice is left out once: the parts are sized by the rest
    (tmp_path / "three.csv").write_text("a,b,label\n1,5,0\n2,6,1\n3,7,0\n")
    code, _, err = convert(capsys, tmp_path / "three.csv", "--drop", "a", "--drop",
                           "0", "--out", out)
    assert code == 0, err
    assert np.load(out).tolist() == [[5, 0], [6, 1], [7, 0]]


def test_drop_on_an_svmlight_file_is_refused_by_the_read(capsys, tmp_path):
    """convert's sizing took int() of every --drop value of a file whose
    format has no columns: 'invalid literal for int()'."""
    (tmp_path / "d.svm").write_text("1 1:0.5\n0 2:1\n")
    code, _, err = convert(capsys, tmp_path / "d.svm", "--drop", "foo", "--out",
                           tmp_path / "t.npy")
    assert code == 1 and "svmlight files have no columns to drop" in err, err
