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

Also here, so that the bench and the tests score the same way: per-class F1
(:func:`f1_scores`) and leave-one-event-out predictions (:func:`leave_one_event_out`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
            depth = _depths(t["structure"])
            for r in sorted(t["replies"], key=lambda r: int(r["id_str"])):
                rid, pid = r["id_str"], r.get("in_reply_to_status_id_str")
                label = labels.get(rid)
                if label not in LABELS or pid not in texts:
                    continue
                out.append(Reply(event=t["event"], thread_id=str(t["thread_id"]), tweet_id=rid,
                                 text=r["text"], parent_text=texts[pid],
                                 depth=depth.get(rid, 1) or 1, label=label))
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


SYSTEMS = ("model", "model without cue rules", "cue lexicons only", "always comment")


def leave_one_event_out(replies: list[Reply], held_out: list[str] | None = None, *,
                        feats: list[list[str]] | None = None, **train_kw
                        ) -> dict[str, list[str]]:
    """For each held-out event, train on the other events and predict it; returns, for each of
    :data:`SYSTEMS`, one predicted label per reply (aligned with ``replies``; '' for replies of
    events not held out). ``feats``: the replies' features, if already computed
    (:func:`tracker.analysis.stance.featurize`); ``train_kw`` go to ``stance.train``."""
    from .stance import cue_only, featurize, predict_featurized, train

    if feats is None:
        feats = featurize([r.text for r in replies], [r.parent_text for r in replies])
    preds = {s: [""] * len(replies) for s in SYSTEMS}
    for ev in held_out if held_out is not None else events(replies):
        tr = [i for i, r in enumerate(replies) if r.event != ev]
        te = [i for i, r in enumerate(replies) if r.event == ev]
        model = train([replies[i].text for i in tr], [replies[i].parent_text for i in tr],
                      [replies[i].label for i in tr], feats=[feats[i] for i in tr], **train_kw)
        texts, fs = [replies[i].text for i in te], [feats[i] for i in te]
        res = predict_featurized(texts, fs, model=model)
        bare = predict_featurized(texts, fs, model=model, use_rules=False)
        for j, i in enumerate(te):
            preds["model"][i] = res[j].label
            preds["model without cue rules"][i] = bare[j].label
            preds["cue lexicons only"][i] = cue_only(replies[i].text)
            preds["always comment"][i] = "comment"
    return preds
