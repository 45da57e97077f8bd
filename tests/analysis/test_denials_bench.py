"""bench/denials.py on a tiny corpus in the RumourEval layout, with fixed stances: each reply
answers its thread's source, the source author's own replies are left out, and precision and
recall are counted exactly; without the corpus it says so and exits 0."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from tracker.analysis import denials as dn
from tracker.analysis.denials import Stance

BENCH = Path(__file__).resolve().parents[2] / "bench" / "denials.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_denials", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod                  # (its dataclasses look their module up)
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        del sys.modules[spec.name]


def tweet(tid, user, text, reply_to=None, minute=0):
    return {"id_str": tid, "text": text, "in_reply_to_status_id_str": reply_to,
            "created_at": f"Mon Dec 15 15:{minute:02d}:04 +0000 2014",
            "user": {"id_str": f"u-{user}", "screen_name": user, "name": user.title()}}


# (reply id, author, text, gold label, parent: None = the source); p(deny) from the text
THREADS = {
    "ev1": ("1000", "newsdesk", "Gunmen hold hostages in a cafe", [
        ("1001", "ann", "That is not true, stop it", "deny", None),      # cue, p .3: a hit
        ("1002", "bob", "I don't know what to think", "comment", None),  # cue, p .3: a miss
        ("1003", "cat", "Fake. Police say no hostages", "deny", None),   # p .8: a hit
        ("1004", "dan", "Praying for everyone", "comment", "1001"),      # deeper, p .05
        ("1005", "newsdesk", "Update: it's false", "deny", None),        # own thread: left out
    ]),
    "ev2": ("2000", "wire", "The minister has resigned", [
        ("1006", "eve", "Source?", "query", None),
        ("1007", "fay", "He denied it this morning", "deny", "1006"),    # p .2: not found
    ]),
}
P_DENY = {"That is not true, stop it": 0.3, "I don't know what to think": 0.3,
          "Fake. Police say no hostages": 0.8, "Update: it's false": 0.9,
          "He denied it this morning": 0.2}


def fixed(replies, parents, model=None):
    return [Stance("deny" if P_DENY.get(t, 0.05) >= 0.5 else "comment", 0.5, "stance-model v2",
                   "", P_DENY.get(t, 0.05)) for t in replies]


@pytest.fixture
def corpus(tmp_path):
    labels, lines = {}, []
    for ev, (sid, author, text, replies) in THREADS.items():
        structure: dict = {sid: {}}
        src = tweet(sid, author, text)
        rows = []
        for k, (rid, user, rtext, label, parent) in enumerate(replies, 1):
            rows.append(tweet(rid, user, rtext, parent or sid, k))
            labels[rid] = label
            (structure[sid] if parent is None else structure[sid].setdefault(parent, {}))[
                rid] = {}
        lines.append(json.dumps({"event": ev, "thread_id": sid, "source": src,
                                 "replies": rows, "structure": structure}))
    (tmp_path / "threads.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    return tmp_path


def figures(out: str, title: str) -> dict[str, tuple]:
    part = out.split(title, 1)[1]
    rows = {}
    for m in re.finditer(r"^ {2}(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)$", part, re.M):
        rows.setdefault(m.group(1).strip(), tuple(int(x) for x in m.group(2, 3, 4)) +
                        (float(m.group(5)), float(m.group(6))))
    return rows


def test_precision_and_recall_counted_exactly(bench, corpus, capsys, monkeypatch):
    monkeypatch.setattr(dn, "stances", fixed)
    assert bench.main(["--corpus", str(corpus), "--packaged-only"]) == 0
    out = capsys.readouterr().out
    assert "2 events, 7 labelled replies" in out
    assert "6 candidate replies (1 by the source's author left out: their own thread)" in out
    rows = figures(out, "Packaged stance model")
    # found 1001 (cue), 1002 (cue), 1003 (model); deny among candidates: 1001, 1003, 1007
    assert rows["denials at the stated thresholds"] == (3, 2, 3, 0.667, 0.667)
    assert rows["by rule stance-model"] == (1, 1, 3, 1.0, 0.333)
    assert rows["by rule negation-cue+stance"] == (2, 1, 3, 0.5, 0.333)
    assert rows["first-level replies (answer the source)"] == (3, 2, 2, 0.667, 1.0)
    assert rows["deeper replies"] == (0, 0, 1, 0.0, 0.0)
    assert rows["event ev2"] == (0, 0, 1, 0.0, 0.0)
    assert rows["for comparison: every candidate reply"] == (6, 3, 3, 0.5, 1.0)
    assert rows["model alone, p(deny) >= 0.30"] == (3, 2, 3, 0.667, 0.667)


def test_without_the_corpus_it_says_so(bench, tmp_path, capsys):
    assert bench.main(["--corpus", str(tmp_path / "nowhere")]) == 0
    assert capsys.readouterr().out.startswith(
        f"skipped: the RumourEval 2017 corpus is not at {tmp_path / 'nowhere'}")
