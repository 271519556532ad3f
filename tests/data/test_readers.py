import json

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
