import codecs
import gzip
import json
import zipfile
from pathlib import Path

import pytest

from thrifty.data.readers import read_records, resolve_data_path
from thrifty.errors import UserError

ROWS = [{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}]


def test_jsonl_json_csv_parquet_and_saved_dataset_read_the_same(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetDict

    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    (tmp_path / "d.json").write_text(json.dumps(ROWS))
    (tmp_path / "d.csv").write_text("prompt,completion\na,b\nc,d\n")
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "d.parquet")
    DatasetDict({"train": Dataset.from_list(ROWS)}).save_to_disk(str(tmp_path / "saved"))
    for name in ("d.jsonl", "d.json", "d.csv", "d.parquet", "saved"):
        assert read_records(str(tmp_path / name)) == ROWS, name


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "broken"\n')
    with pytest.raises(UserError, match=r"bad\.jsonl:2: malformed JSON"):
        read_records(str(path))


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('{"text": "ok"}\n[1, 2]\n')
    with pytest.raises(UserError, match=r"list\.jsonl:2: expected a JSON object"):
        read_records(str(path))


def test_missing_file_and_unknown_type(tmp_path):
    with pytest.raises(UserError, match="data file not found"):
        read_records(str(tmp_path / "nope.jsonl"))
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(UserError, match="unsupported data file type '.txt'"):
        read_records(str(tmp_path / "d.txt"))


def test_saved_dataset_unknown_split(tmp_path):
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_list(ROWS)}).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(UserError, match="no split 'test'.*train"):
        read_records(str(tmp_path / "saved"), split="test")


def test_pkg_path_finds_data_shipped_in_a_package():
    path = resolve_data_path("pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl")
    assert path.is_file()
    records = read_records("pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl")
    assert len(records) == 503 and {"instruction", "output"} <= set(records[0])
    with pytest.raises(UserError, match="not installed"):
        resolve_data_path("pkg:no_such_package_here/x.jsonl")


# --- encodings and files that are not text ---------------------------------------------------

JSONL = "".join(json.dumps(r) + "\n" for r in ROWS)
TEXTS = {
    "d.jsonl": JSONL,
    "d.json": json.dumps(ROWS, indent=1),
    "d.csv": "prompt,completion\r\na,b\r\nc,d\r\n",
}
ENCODINGS = {
    "utf-8-bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16-le": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-32-le": lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", TEXTS)
def test_files_with_a_bom_read_like_plain_utf8(tmp_path, name, encoding):
    path = tmp_path / name
    path.write_bytes(ENCODINGS[encoding](TEXTS[name]))
    records = read_records(str(path))
    assert not next(iter(records[0])).startswith("\ufeff")  # Excel's UTF-8 BOM is not part of the key
    assert records == ROWS


def test_non_ascii_text_survives_utf16(tmp_path):
    rows = [{"prompt": "Ansök om bygglov – 建築許可 🏗", "completion": "ok"}]
    path = tmp_path / "d.jsonl"
    path.write_bytes(codecs.BOM_UTF16_LE + json.dumps(rows[0], ensure_ascii=False).encode("utf-16-le"))
    assert read_records(str(path)) == rows


def _one_line_error(path) -> str:
    with pytest.raises(UserError) as info:
        read_records(str(path))
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_binary_file_names_the_file_and_the_bad_byte(tmp_path):
    png = tmp_path / "image.jsonl"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10")
    message = _one_line_error(png)
    assert "image.jsonl:1: not UTF-8 text (byte 0x89 at offset 0)" in message and "PNG" in message
    garbage = tmp_path / "garbage.parquet"  # pyarrow's own check; one line naming the file too
    garbage.write_bytes(png.read_bytes())
    assert "cannot read Parquet" in _one_line_error(garbage)


@pytest.mark.parametrize("name", ["d.csv", "d.jsonl", "d.json"])
def test_latin1_file_names_line_and_offset(tmp_path, name):
    text = {"d.csv": "prompt,completion\ncafé,b\n", "d.jsonl": '{"a": "x"}\n{"a": "café"}\n'}
    path = tmp_path / name
    raw = text.get(name, '[{"a":\n "café"}]').encode("latin-1")
    path.write_bytes(raw)
    offset = raw.index(b"\xe9")
    message = _one_line_error(path)
    assert f"{name}:2: not UTF-8 text (byte 0xe9 at offset {offset}); save it as UTF-8" in message


def test_utf16_without_bom_and_renamed_archives_are_one_line(tmp_path):
    bomless = tmp_path / "nobom.jsonl"
    bomless.write_bytes(JSONL.encode("utf-16-le"))
    assert "nobom.jsonl:1: NUL byte at offset 1 (UTF-16 without a BOM" in _one_line_error(bomless)
    gz = tmp_path / "gz.jsonl"
    gz.write_bytes(gzip.compress(JSONL.encode()))
    assert "byte 0x8b at offset 1" in _one_line_error(gz) and "decompress it first" in _one_line_error(gz)
    archive = tmp_path / "sheet.csv"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("d.csv", "prompt,completion\na,b\n")
    assert "zip archive" in _one_line_error(archive)
    broken = tmp_path / "broken16.json"  # a BOM, then an odd byte count: names the encoding it tried
    broken.write_bytes(codecs.BOM_UTF16_LE + b"[\x00]")
    assert "not UTF-16-LE text (byte 0x5d at offset 4)" in _one_line_error(broken)


def _damage(folder: Path, target: str) -> None:
    arrow = next((folder / "train").glob("*.arrow"))
    if target == "arrow-truncated":
        arrow.write_bytes(arrow.read_bytes()[:-100])
    elif target == "arrow":
        arrow.write_bytes(b"garbage " * 16)
    elif target == "state.json-shape":
        (folder / "train" / "state.json").write_text("{}")
    else:
        (folder / "train" / target).write_bytes(b"\x00garbage{")


@pytest.mark.parametrize(
    "target", ["dataset_info.json", "state.json", "state.json-shape", "arrow", "arrow-truncated"]
)
def test_damaged_saved_dataset_is_one_line(tmp_path, target):
    from datasets import Dataset, DatasetDict

    folder = tmp_path / "saved"
    DatasetDict({"train": Dataset.from_list(ROWS * 50)}).save_to_disk(str(folder))
    _damage(folder, target)
    assert "damaged datasets folder" in _one_line_error(folder)


def test_train_on_a_binary_file_exits_2_with_one_line(tiny_model, tmp_path, capsys):
    from thrifty.cli import main

    bad = tmp_path / "data.jsonl"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    out = tmp_path / "run"
    assert main(["train", "--data", str(bad), "--model", str(tiny_model), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        f"error: {bad}:1: not UTF-8 text (byte 0x89 at offset 0); it looks like a PNG image, not data"
    ]
    assert not (out / "summary.json").exists()
