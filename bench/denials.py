"""Benchmark: how many of the denials `tracker denials` finds are denials, on RumourEval 2017.

    python bench/denials.py                 # the six events (about 2 minutes on one core)
    python bench/denials.py --corpus DIR    # another copy of the corpus (../shared/corpus)
    python bench/denials.py --packaged-only # skip the leave-one-event-out models (faster)

The corpus (../shared/corpus/rumoureval2017, read in place, never copied) holds real Twitter
threads around rumours, each reply labelled support / deny / query / comment toward the rumour
in the thread's source tweet. Each event is loaded into a temporary DuckDB database the way the
collectors store posts: the source tweet and every labelled reply, each reply *answering the
source tweet* (reply_to_post_id = the source), and every reply's author a tracked account. Then
`tracker.analysis.denials.find_denials` runs unchanged (the SQL, the negation cues and the
thresholds DENY_THRESHOLD and CUE_THRESHOLD), and its denials are scored against the
'deny' labels: precision (how many found are labelled deny), recall (how many labelled deny
are found), per rule, per event, and for first-level replies (those that do answer the
source) apart from deeper ones (whose label is still toward the source, while their text may
answer another reply).

Two stance models:
- leave-one-event-out (the figure to quote): for each event, a model trained the way the
  packaged one was (same features and settings) on the five other events only;
- the packaged model, trained on all six events: in-sample, so optimistic; printed because
  it is what `tracker denials` runs.

Replies by the source tweet's author are left out (a reply in one's own thread is no answer,
by the denials' rules). Also printed: the share of 'deny' among the candidates (the precision of
picking replies at random), the model's plain arg-max 'deny', and a sweep of each threshold
(for information: the thresholds were set before this bench and are not tuned on it).
Runs offline; without the corpus it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.analysis import denials as dn  # noqa: E402
from tracker.analysis.stance_data import DEFAULT_DIR  # noqa: E402
from tracker.store.db import open_db  # noqa: E402

LABELS = ("support", "deny", "query", "comment")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
RULES = ("stance-rule", "stance-model", "negation-cue+stance")


@dataclass(frozen=True)
class Post:
    event: str
    post_id: str
    author_id: str
    handle: str
    name: str
    created_at: datetime
    text: str
    reply_to: str | None       # the thread's source, for a reply
    label: str | None          # a reply's label
    depth: int = 0             # 1: answers the source post itself


def _time(s: str) -> datetime:
    return datetime.strptime(s, "%a %b %d %H:%M:%S %z %Y").astimezone(timezone.utc)


def _depths(structure: dict, depth: int = 0, out: dict | None = None) -> dict[str, int]:
    out = {} if out is None else out
    for k, v in structure.items():
        out[str(k)] = depth
        if isinstance(v, dict):
            _depths(v, depth + 1, out)
    return out


def read_corpus(d: Path) -> dict[str, list[Post]]:
    """event -> its posts: each thread's source, then its labelled replies (answering it)."""
    labels = json.loads((d / "labels.json").read_text(encoding="utf-8"))
    out: dict[str, list[Post]] = {}
    with open(d / "threads.jsonl", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            src, ev = t["source"], t["event"]
            depth = _depths(t["structure"])
            posts = out.setdefault(ev, [])

            def post(tw, reply_to=None, label=None):
                u = tw.get("user") or {}
                return Post(ev, tw["id_str"], u.get("id_str") or "?", u.get("screen_name") or
                            u.get("id_str") or "?", u.get("name") or "", _time(tw["created_at"]),
                            tw["text"], reply_to, label, depth.get(tw["id_str"], 1) or 1)

            posts.append(post(src))
            for r in sorted(t["replies"], key=lambda r: int(r["id_str"])):
                if labels.get(r["id_str"]) in LABELS:
                    posts.append(post(r, src["id_str"], labels[r["id_str"]]))
    return out


def load_event(path: Path, posts: list[Post]) -> None:
    """The posts as the collectors store them (accounts, handles, posts)."""
    con = open_db(path)
    try:
        seen = datetime.now(timezone.utc)
        users = {}
        for p in posts:
            users.setdefault(p.author_id, (p.handle, p.name))
        for aid, (handle, name) in users.items():
            con.execute("INSERT INTO accounts (platform, account_id, handle, name, first_seen_at,"
                        " last_seen_at) VALUES ('x', ?, ?, ?, ?, ?)", [aid, handle, name, seen,
                                                                        seen])
            con.execute("INSERT INTO account_handles (platform, account_id, handle, "
                        "first_seen_at, last_seen_at) VALUES ('x', ?, ?, ?, ?)",
                        [aid, handle, seen, seen])
        src_author = {p.post_id: p.author_id for p in posts if p.reply_to is None}
        con.executemany(
            "INSERT INTO posts (platform, post_id, author_id, created_at, text, reply_to_post_id,"
            " reply_to_user_id, url, seen_in, first_seen_at, last_seen_at) VALUES "
            "('x', ?, ?, ?, ?, ?, ?, ?, 'data', ?, ?)",
            [[p.post_id, p.author_id, p.created_at, p.text, p.reply_to,
              src_author.get(p.reply_to), f"https://x.com/{p.handle}/status/{p.post_id}", seen,
              seen] for p in posts])
    finally:
        con.close()


def loeo_models(corpus: Path, evs: list[str]) -> dict[str, object]:
    """For each event, the stance model trained (as the packaged one) on the other events."""
    from tracker.analysis import stance
    from tracker.analysis.stance_data import Encoded, load_replies

    settings = dict(stance.load_model().meta.get("settings") or {})
    replies = load_replies(corpus)
    enc = Encoded.of(replies)
    out = {}
    for ev in evs:
        idx = [i for i, r in enumerate(replies) if r.event != ev]
        out[ev] = stance.train([replies[i].text for i in idx],
                               [replies[i].parent_text for i in idx],
                               [replies[i].label for i in idx],
                               feats=[enc.feats[i] for i in idx], emb=enc.emb[idx], **settings)
    return out


@dataclass
class Found:
    post: Post
    rule: str | None            # at the stated thresholds (None: not a denial)
    score: float
    cue: str | None
    stance: str


def run_event(db: Path, posts: list[Post], model) -> list[Found]:
    """Every candidate reply with its score, and the rule find_denials gives it."""
    tracked = sorted({("x", p.handle) for p in posts if p.reply_to is not None})
    con = open_db(db, read_only=True)
    try:
        stated = {d.post_id: d.rule for d in dn.find_denials(con, tracked, since=EPOCH,
                                                             model=model)}
        saved = dn.DENY_THRESHOLD
        dn.DENY_THRESHOLD = 0.0                     # every candidate, with its score
        try:
            every = dn.find_denials(con, tracked, since=EPOCH, model=model)
        finally:
            dn.DENY_THRESHOLD = saved
    finally:
        con.close()
    by_id = {p.post_id: p for p in posts}
    src_author = {p.post_id: p.author_id for p in posts if p.reply_to is None}
    # the source's author answering in the thread: no answer to the source (find_denials
    # leaves such replies out; those that name a commenter come back as mentions of them,
    # as the corpus's tree is flattened here: left out of the scores too)
    return [Found(by_id[d.post_id], stated.get(d.post_id), d.score, d.cue, d.stance)
            for d in every if src_author[by_id[d.post_id].reply_to] != d.author_id]


def prf(found: list[Found], pick) -> tuple[int, int, int, float, float]:
    """(picked, of them deny, deny in all, precision, recall)."""
    picked = [f for f in found if pick(f)]
    tp = sum(1 for f in picked if f.post.label == "deny")
    deny = sum(1 for f in found if f.post.label == "deny")
    return (len(picked), tp, deny, tp / len(picked) if picked else 0.0,
            tp / deny if deny else 0.0)


def line(name: str, found: list[Found], pick, width: int = 44) -> str:
    n, tp, deny, p, r = prf(found, pick)
    return f"  {name:<{width}} {n:>6} {tp:>6} {deny:>6}   {p:>9.3f} {r:>6.3f}"


HEAD = f"  {'':<44} {'found':>6} {'deny':>6} {'of':>6}   {'precision':>9} {'recall':>6}"


def report(title: str, found: list[Found]) -> None:
    print(f"\n{title}")
    print(HEAD)
    print(line("denials at the stated thresholds", found, lambda f: f.rule is not None))
    for rule in RULES:
        print(line(f"  by rule {rule}", found, lambda f, rule=rule: f.rule == rule))
    print(line("  first-level replies (answer the source)", [f for f in found
               if f.post.depth == 1], lambda f: f.rule is not None))
    print(line("  deeper replies", [f for f in found if f.post.depth > 1],
               lambda f: f.rule is not None))
    for ev in sorted({f.post.event for f in found}):
        print(line(f"  event {ev}", [f for f in found if f.post.event == ev],
                   lambda f: f.rule is not None))
    print(line("for comparison: every candidate reply", found, lambda f: True))
    print(line("            the model's arg-max 'deny'", found, lambda f: f.stance == "deny"))
    print(line("            a negation cue alone", found, lambda f: f.cue is not None))
    print("  threshold sweep (information only; the rule set as stated otherwise):")
    for t in (0.3, 0.4, 0.5, 0.6, 0.7):
        print(line(f"    model alone, p(deny) >= {t:.2f}", found, lambda f, t=t: f.score >= t))
    for t in (0.15, 0.2, 0.25, 0.3, 0.35):
        print(line(f"    with a cue,  p(deny) >= {t:.2f}", found,
                   lambda f, t=t: f.cue is not None and f.score >= t))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--packaged-only", action="store_true",
                    help="only the packaged (in-sample) model")
    args = ap.parse_args(argv)
    if not (args.corpus / "threads.jsonl").exists() or not (args.corpus / "labels.json").exists():
        print(f"skipped: the RumourEval 2017 corpus is not at {args.corpus} (threads.jsonl and "
              "labels.json; see ../shared/corpus/rumoureval2017/SOURCES.md, or give --corpus)")
        return 0
    t0 = time.perf_counter()
    events = read_corpus(args.corpus)
    replies = sum(1 for ps in events.values() for p in ps if p.reply_to is not None)
    print(f"RumourEval 2017 at {args.corpus}: {len(events)} events, {replies} labelled replies")
    print(f"denials: DENY_THRESHOLD={dn.DENY_THRESHOLD}, CUE_THRESHOLD={dn.CUE_THRESHOLD}; "
          "each reply taken as a tracked account's answer to the thread's source tweet")
    loeo, packaged = [], []
    with tempfile.TemporaryDirectory(prefix="bench-denials-") as tmp:
        dbs = {}
        for ev, posts in events.items():
            dbs[ev] = Path(tmp) / f"{ev}.duckdb"
            load_event(dbs[ev], posts)
        if not args.packaged_only:
            t1 = time.perf_counter()
            models = loeo_models(args.corpus, sorted(events))
            print(f"trained {len(models)} leave-one-event-out models in "
                  f"{time.perf_counter() - t1:.0f} s")
            for ev, posts in events.items():
                loeo += run_event(dbs[ev], posts, models[ev])
        for ev, posts in events.items():
            packaged += run_event(dbs[ev], posts, None)
    own = replies - len(packaged)
    print(f"{len(packaged)} candidate replies ({own} by the source's author left out: their "
          "own thread)")
    if loeo:
        report("Leave-one-event-out stance models (each event judged by a model that never saw "
               "it): the figure to quote", loeo)
    report("Packaged stance model (trained on these six events: in-sample, optimistic)",
           packaged)
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
