"""The data migration that stores X's entities and withheld as sent (compact), and the form
both normalizers now give them."""

from __future__ import annotations

import json
import random

import duckdb

from tracker.core.jsonload import loads
from tracker.sources.x.migrations import NOT_AS_SENT
from tracker.sources.x.normalize import as_sent
from tracker.store import datamigrations
from tracker.store.db import open_db

OLD = {  # post_id -> (entities, withheld) as stored before: json.dumps(sort_keys=True)
    "1": ({"urls": [{"start": 0, "end": 23, "url": "https://t.co/8e3"}],
           "annotations": [{"probability": 0.4677, "type": "Place"}]}, None),
    "2": ({"hashtags": [{"tag": "Brexit", "start": 1, "end": 8}]},
          {"country_codes": ["DE", "FR"], "copyright": True}),
    "3": ({"a": [1e-05, 1e300, "\x01é"]}, None),       # DuckDB's text is not as_sent's here
    "4": (None, None),
}


def _old(value):
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _insert(con, platform, post_id, entities, withheld):
    con.execute("INSERT INTO posts (platform, post_id, entities, withheld, first_seen_at, "
                "last_seen_at, load_seq) VALUES (?, ?, ?, ?, now(), now(), 7)",
                [platform, post_id, entities, withheld])


def test_a_database_of_the_old_form_is_rewritten_once(tmp_path, monkeypatch):
    db = tmp_path / "t.duckdb"
    with monkeypatch.context() as m:          # a database made before the migration existed
        m.setattr(datamigrations, "DATA_MIGRATIONS", [])
        con = open_db(db)
        for pid, (e, w) in OLD.items():
            _insert(con, "x", pid, _old(e), _old(w))
        _insert(con, "mastodon", "1", _old(OLD["1"][0]), None)     # not X's: left alone
        con.close()

    con = open_db(db)
    seq = con.execute("SELECT currval('load_seq')").fetchone()[0]
    rows = con.execute("SELECT platform, post_id, entities::VARCHAR, withheld::VARCHAR, "
                       "load_seq FROM posts ORDER BY platform, post_id").fetchall()
    assert rows == [
        ("mastodon", "1", _old(OLD["1"][0]), None, 7),
        ("x", "1", '{"annotations":[{"probability":0.4677,"type":"Place"}],'
                   '"urls":[{"end":23,"start":0,"url":"https://t.co/8e3"}]}', None, seq),
        ("x", "2", '{"hashtags":[{"end":8,"start":1,"tag":"Brexit"}]}',
         '{"copyright":true,"country_codes":["DE","FR"]}', seq),
        ("x", "3", '{"a":[1e-05,1e+300,"\\u0001é"]}', None, seq),
        ("x", "4", None, None, 7),
    ]
    # the same text as_sent gives the same value (whose keys come sorted from the old text)
    for platform, pid, e, w, _ in rows[1:]:
        assert (e, w) == tuple(as_sent(json.loads(_old(v))) if v is not None else None
                               for v in OLD[pid])
    assert con.execute("SELECT name FROM data_migrations").fetchall() == [
        ("x: entities as sent",)]
    con.close()

    con = open_db(db)                          # applied once: opening again changes nothing
    assert con.execute("SELECT platform, post_id, entities::VARCHAR, withheld::VARCHAR, "
                       "load_seq FROM posts ORDER BY platform, post_id").fetchall() == rows
    con.close()


def _value(rnd: random.Random, depth: int = 0):
    kind = rnd.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return rnd.choice([0, -0, 1, -7, 2**63 - 1, 2**64 + 5, 12345678901234567890])
    if kind == 1:
        mant, exp = rnd.uniform(-10, 10), rnd.randint(-30, 30)
        return rnd.choice([mant * 10.0 ** exp, round(mant, rnd.randint(0, 6)), 0.0, -0.0])
    if kind == 2:
        return "".join(rnd.choice(["a", "é", "😀", "\x01", "\x1f", "\x7f", "\n", '"', "\\",
                                   "/", "\u2028", ":1e5", ",0.00001", "[12345678901234567.0"])
                       for _ in range(rnd.randint(0, 6)))
    if kind == 3:
        return rnd.choice([True, False, None])
    if kind in (4, 5):
        return rnd.choice(["t", "x"]) * rnd.randint(0, 3)
    if kind in (6, 7):
        return {f"k{rnd.randint(0, 20)}": _value(rnd, depth + 1)
                for _ in range(rnd.randint(0, 4))}
    return [_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]


def test_where_the_check_passes_duckdbs_text_is_as_sents():
    """The batched path stores DuckDB's text of entities and withheld unless NOT_AS_SENT
    matches it (then the line goes through the per-page path): so where it does not match,
    DuckDB's text must be as_sent's, for any JSON value."""
    rnd = random.Random(5)
    values = [{"e": _value(rnd, 1)} for _ in range(4000)]
    texts = [json.dumps(v, ensure_ascii=rnd.random() < 0.3) for v in values]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i, from_json(j, '{\"e\":\"JSON\"}').e::VARCHAR AS e "
                "FROM (SELECT unnest(range(?)) AS i, unnest(?::VARCHAR[]) AS j)",
                [len(texts), texts])
    rows = con.execute("SELECT e, coalesce(regexp_matches(e, ?), false) FROM t ORDER BY i",
                       [NOT_AS_SENT]).fetchall()
    # as the per-page path reads the line (tracker.core.jsonload: orjson, then json)
    want = [as_sent(loads(t)["e"]) for t in texts]
    assert [d for (d, odd), w in zip(rows, want) if not odd] == \
        [w for (d, odd), w in zip(rows, want) if not odd]
    # the check is needed (DuckDB's text differs for some) and lets most values through
    assert any(d != w for (d, odd), w in zip(rows, want) if odd)
    assert sum(odd for _, odd in rows) < len(rows) / 2
