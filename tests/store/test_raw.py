"""The raw archive: durable lines, torn tails and damaged lines reported, run order."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone

from tracker.store.raw import RawWriter, list_raw_files, read_raw_file

AT = datetime(2022, 10, 11, 14, 0, tzinfo=timezone.utc)


def write(tmp_path, run_id="20221011T140000000000Z-aaaa", n=3):
    w = RawWriter(tmp_path, "x", run_id, started=AT)
    for i in range(n):
        w.page(purpose="timeline", endpoint="GET /2/users/:id/tweets", params={"id": "1"},
               scope="timeline:1", fetched_at=AT, status=200, headers={},
               body=json.dumps({"data": [{"id": str(i), "text": "t"}]}))
    return w


def test_lines_are_gzip_members_readable_by_any_gzip_reader(tmp_path):
    w = write(tmp_path)
    assert w.relpath == "x/2022-10-11/20221011T140000000000Z-aaaa.jsonl.gz"
    lines = gzip.decompress(w.path.read_bytes()).decode().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2, 3]
    recs = list(read_raw_file(w.path))
    assert [(r.line, r.record["seq"], r.error) for r in recs] == [(1, 1, None), (2, 2, None),
                                                                  (3, 3, None)]
    assert recs[0].record["fetched_at"] == "2022-10-11T14:00:00.000000Z"


def test_torn_tail_keeps_every_complete_line(tmp_path):
    w = write(tmp_path)
    data = w.path.read_bytes()
    w.path.write_bytes(data[:-10])           # a crash in the middle of the last write
    recs = list(read_raw_file(w.path))
    assert [r.record["seq"] for r in recs if r.record] == [1, 2]
    assert recs[-1].record is None and "torn write" in recs[-1].error


def test_damaged_json_line_is_reported_and_the_rest_read(tmp_path):
    w = write(tmp_path, n=1)
    with open(w.path, "ab") as fh:
        fh.write(gzip.compress(b'{"type": "page", "seq": 2, "body": "{\\"da\n'))
    w.seq = 2
    w.page(purpose="timeline", endpoint="e", params={}, scope=None, fetched_at=AT, status=200,
           headers={}, body="{}")
    recs = list(read_raw_file(w.path))
    assert [(r.line, bool(r.record)) for r in recs] == [(1, True), (2, False), (3, True)]
    assert recs[1].error.startswith("invalid JSON line")


def test_files_listed_in_run_order(tmp_path):
    write(tmp_path, "20221011T150000000000Z-bbbb")
    write(tmp_path, "20221011T140000000000Z-aaaa")
    assert [p.split("/")[-1][:16] for p in list_raw_files(tmp_path)] == [
        "20221011T1400000", "20221011T1500000"]
