"""Reading the RumourEval 2017 stance corpus (``../shared/corpus/rumoureval2017``) in place.

One reader for ``scripts/train_stance.py``, ``bench/stance.py`` and the tests. The corpus is
never copied into the repo: point :func:`load_replies` at its folder.

Each labelled *reply* becomes one :class:`Reply`: its text, the text of the post it answers, its
depth in the thread (1 = answers the thread's source post) and its label (support, deny, query,
comment). The source posts themselves are labelled in the corpus too (nearly all 'support':
the source states the rumour); they are not replies, so they are left out here.

Note on the labels: the organisers annotated each reply's stance toward the *rumour in the
thread's source post*. For first-level replies (62% of them) that is the post they answer; for
deeper replies the tracker's question ("toward the post it answers") and the corpus's can differ.

Also here, so that the bench, the training script and the tests score the same way: per-class
F1 (:func:`f1_scores`), the confusion matrix (:func:`confusion`), the choice of training
settings by leave-one-event-out inside the training events (:func:`select_settings`) and
leave-one-event-out predictions (:func:`leave_one_event_out`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from tracker.analysis.stance import (
    GRID,
    V1_SETTINGS,
    cue_only,
    embed,
    featurize,
    predict_featurized,
    train,
)

LABELS = ("support", "deny", "query", "comment")
DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "rumoureval2017"


@dataclass(frozen=True)
class Reply:
    event: str
    thread_id: str
    tweet_id: str
    text: str
    parent_text: str
    depth: int
    label: str
    source_text: str = ""       # the thread's source post
    lang: str = ""              # the language Twitter gave the reply ('und': undetermined)
    by_source_author: bool = False  # written by the author of the thread's source post


def _depths(structure: dict, depth: int = 0, out: dict | None = None) -> dict[str, int]:
    out = {} if out is None else out
    for k, v in structure.items():
        out[str(k)] = depth
        if isinstance(v, dict):
            _depths(v, depth + 1, out)
    return out


def load_replies(corpus_dir: str | Path = DEFAULT_DIR) -> list[Reply]:
    """Every labelled reply whose parent's text is in the corpus, in a fixed order.

    Order: threads as in ``threads.jsonl``, replies by tweet id (chronological) within a thread,
    so that training on the result is reproducible.
    """
    d = Path(corpus_dir)
    labels: dict[str, str] = json.loads((d / "labels.json").read_text(encoding="utf-8"))
    out: list[Reply] = []
    with open(d / "threads.jsonl", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            src = t["source"]
            texts = {src["id_str"]: src["text"]}
            texts.update({r["id_str"]: r["text"] for r in t["replies"]})
            author = (src.get("user") or {}).get("id_str")
            depth = _depths(t["structure"])
            for r in sorted(t["replies"], key=lambda r: int(r["id_str"])):
                rid, pid = r["id_str"], r.get("in_reply_to_status_id_str")
                label = labels.get(rid)
                if label not in LABELS or pid not in texts:
                    continue
                out.append(Reply(event=t["event"], thread_id=str(t["thread_id"]), tweet_id=rid,
                                 text=r["text"], parent_text=texts[pid],
                                 depth=depth.get(rid, 1) or 1, label=label,
                                 source_text=src["text"], lang=r.get("lang") or "",
                                 by_source_author=author is not None
                                 and (r.get("user") or {}).get("id_str") == author))
    return out


def source_labels(corpus_dir: str | Path = DEFAULT_DIR) -> list[tuple[str, str]]:
    """(event, label) of each thread's labelled source post (the bench's 'all tweets' line)."""
    d = Path(corpus_dir)
    labels: dict[str, str] = json.loads((d / "labels.json").read_text(encoding="utf-8"))
    out = []
    with open(d / "threads.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                t = json.loads(line)
                lab = labels.get(t["source"]["id_str"])
                if lab in LABELS:
                    out.append((t["event"], lab))
    return out


def events(replies: list[Reply]) -> list[str]:
    """The events in the corpus, sorted."""
    return sorted({r.event for r in replies})


def f1_scores(gold: list[str], pred: list[str]) -> dict[str, float]:
    """F1 of each stance, plus 'macro' (their unweighted mean; a class never predicted and never
    present counts 0, as in the RumourEval scorer's macro average)."""
    out: dict[str, float] = {}
    for lab in LABELS:
        tp = sum(1 for g, p in zip(gold, pred) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, pred) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred) if g == lab and p != lab)
        out[lab] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    out["macro"] = sum(out[lab] for lab in LABELS) / len(LABELS)
    return out


def confusion(gold: Sequence[str], pred: Sequence[str]) -> list[list[int]]:
    """Counts [gold stance][predicted stance], both in :data:`LABELS` order."""
    m = [[0] * len(LABELS) for _ in LABELS]
    for g, p in zip(gold, pred):
        m[LABELS.index(g)][LABELS.index(p)] += 1
    return m


SYSTEMS = ("model v2", "model v2 without cue rules", "model v1", "cue lexicons only",
           "always comment")


@dataclass
class Encoded:
    """The replies' sparse features and (for v2) sentence embeddings, computed once."""
    feats: list[list[str]]
    emb: np.ndarray | None = None

    @classmethod
    def of(cls, replies: Sequence[Reply], embeddings: bool = True) -> Encoded:
        feats = featurize([r.text for r in replies], [r.parent_text for r in replies])
        return cls(feats, embed([r.text for r in replies]) if embeddings else None)


def _fit(replies: Sequence[Reply], idx: Sequence[int], enc: Encoded, **train_kw):
    dense = train_kw.get("dense", True)
    return train([replies[i].text for i in idx], [replies[i].parent_text for i in idx],
                 [replies[i].label for i in idx], feats=[enc.feats[i] for i in idx],
                 emb=enc.emb[list(idx)] if dense else None, **train_kw)


def _predict(model, replies: Sequence[Reply], idx: Sequence[int], enc: Encoded,
             use_rules: bool = True) -> list[str]:
    emb = enc.emb[list(idx)] if model.needs_embeddings else None
    res = predict_featurized([replies[i].text for i in idx], [enc.feats[i] for i in idx],
                             model=model, emb=emb, use_rules=use_rules)
    return [r.label for r in res]


def _grid(grid: dict[str, Sequence]) -> list[dict]:
    out: list[dict] = [{}]
    for k, values in grid.items():
        out = [{**o, k: v} for o in out for v in values]
    return out


@dataclass
class Selection:
    """The training settings chosen by leave-one-event-out inside some events."""
    settings: dict
    table: list[tuple[dict, float, float]] = field(default_factory=list)  # (settings, macro, deny)


def select_settings(replies: Sequence[Reply], idx: Sequence[int], enc: Encoded,
                    grid: dict[str, Sequence] | None = None) -> Selection:
    """Choose the v2 training settings (:data:`stance.GRID`: the class-weight power) that give
    the best macro-F1 (then deny F1) pooled over leave-one-event-out *within* the replies
    ``idx``: each of their events is predicted by a model trained on the others. Only these
    replies are read, so a held-out event outside ``idx`` is never seen."""
    evs = sorted({replies[i].event for i in idx})
    gold = [replies[i].label for i in idx]
    table = []
    for st in _grid(grid or GRID):
        pred = [""] * len(idx)
        for ev in evs:
            tr = [i for i in idx if replies[i].event != ev]
            te = [j for j, i in enumerate(idx) if replies[i].event == ev]
            got = _predict(_fit(replies, tr, enc, **st), replies, [idx[j] for j in te], enc)
            for j, lab in zip(te, got):
                pred[j] = lab
        f = f1_scores(gold, pred)
        table.append((st, round(f["macro"], 4), round(f["deny"], 4)))
    best = max(table, key=lambda t: (t[1], t[2]))[0]
    return Selection(best, table)


@dataclass
class LOEO:
    """Leave-one-event-out predictions: for each of :data:`SYSTEMS`, one label per reply
    (aligned with the replies; '' for replies of events not held out), and for each held-out
    event the v2 settings chosen inside its training events."""
    preds: dict[str, list[str]]
    settings: dict[str, dict]


def leave_one_event_out(replies: list[Reply], held_out: list[str] | None = None, *,
                        enc: Encoded | None = None, select: bool = True,
                        systems: Sequence[str] = SYSTEMS, **train_kw) -> LOEO:
    """For each held-out event, train on the other events and predict it. ``select``: choose
    the v2 settings by :func:`select_settings` inside the training events (else the defaults,
    or ``train_kw``). The v1 model is retrained the way it was trained before
    (:data:`stance.V1_SETTINGS`)."""
    if enc is None:
        enc = Encoded.of(replies, embeddings=any(s.startswith("model v2") for s in systems))
    preds = {s: [""] * len(replies) for s in systems}
    chosen: dict[str, dict] = {}
    for ev in held_out if held_out is not None else events(replies):
        tr = [i for i, r in enumerate(replies) if r.event != ev]
        te = [i for i, r in enumerate(replies) if r.event == ev]
        got: dict[str, list[str]] = {}
        if any(s.startswith("model v2") for s in systems):
            st = dict(train_kw)
            if select:
                st.update(select_settings(replies, tr, enc).settings)
            chosen[ev] = st
            m2 = _fit(replies, tr, enc, **st)
            got["model v2"] = _predict(m2, replies, te, enc)
            got["model v2 without cue rules"] = _predict(m2, replies, te, enc, use_rules=False)
        if "model v1" in systems:
            got["model v1"] = _predict(_fit(replies, tr, enc, **V1_SETTINGS), replies, te, enc)
        got["cue lexicons only"] = [cue_only(replies[i].text) for i in te]
        got["always comment"] = ["comment"] * len(te)
        for s in systems:
            for j, i in enumerate(te):
                preds[s][i] = got[s][j]
    return LOEO(preds, chosen)
