"""Benchmark: reply stance, leave-one-event-out over RumourEval 2017 (../shared/corpus).

    python bench/stance.py                  # all six events
    python bench/stance.py --corpus DIR     # another copy of the corpus

For each of the six events, trains `tracker.analysis.stance` on the other five and labels the
held-out event's replies; prints per-event and pooled macro-F1 and deny-class F1, the pooled F1
of each stance, beside two trivial baselines computed in the same run (always 'comment'; the
cue lexicons alone) and the published reference points. Accuracy is printed last and only for
completeness: two thirds of replies are 'comment'.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.analysis.stance_data import (  # noqa: E402
    DEFAULT_DIR, LABELS, SYSTEMS, events, f1_scores, leave_one_event_out, load_replies,
    source_labels)

REFERENCES = (  # (system, macro-F1, deny F1): RumourEval 2019 subtask A (Gorrell et al. 2019)
    ("RumourEval-2019 baseline (branch-LSTM)", 0.493, 0.071),
    ("RumourEval-2019 best system (BLCU_NLP)", 0.619, None),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_DIR)
    a = ap.parse_args(argv)
    if not (a.corpus / "threads.jsonl").is_file():
        print(f"{a.corpus}: corpus not found (clone with ../shared beside the repo)",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    replies = load_replies(a.corpus)
    gold = [r.label for r in replies]
    preds = leave_one_event_out(replies)
    secs = time.perf_counter() - t0

    counts = {lab: gold.count(lab) for lab in LABELS}
    print(f"RumourEval 2017, {len(replies)} labelled replies in {len(events(replies))} events "
          f"({', '.join(f'{k} {v}' for k, v in counts.items())}); leave-one-event-out, "
          f"{secs:.1f} s\n")

    short = {"model": "model", "model without cue rules": "no rules",
             "cue lexicons only": "cues", "always comment": "comment"}
    print("per held-out event: macro-F1 / deny F1")
    print(f"{'event':16s}{'replies':>8s}{'deny':>6s}  " +
          "".join(f"{short[s]:>15s}" for s in SYSTEMS))
    for ev in events(replies):
        idx = [i for i, r in enumerate(replies) if r.event == ev]
        g = [gold[i] for i in idx]
        cells = []
        for s in SYSTEMS:
            f = f1_scores(g, [preds[s][i] for i in idx])
            cells.append(f"{f['macro']:.3f} / {f['deny']:.3f}")
        print(f"{ev:16s}{len(idx):8d}{g.count('deny'):6d}  " + "".join(f"{c:>15s}" for c in cells))

    print("\npooled over the six held-out events (every reply scored once)")
    print(f"{'system':40s}{'macro-F1':>9s}{'deny F1':>9s}" +
          "".join(f"{lab:>9s}" for lab in LABELS if lab != "deny") + f"{'accuracy':>10s}")
    for s in SYSTEMS:
        f = f1_scores(gold, preds[s])
        acc = sum(1 for g, p in zip(gold, preds[s]) if g == p) / len(gold)
        print(f"{s:40s}{f['macro']:9.3f}{f['deny']:9.3f}" +
              "".join(f"{f[lab]:9.3f}" for lab in LABELS if lab != "deny") + f"{acc:10.3f}")
    for name, keep in (("model, first-level replies", lambda r: r.depth == 1),
                       ("model, deeper replies", lambda r: r.depth > 1)):
        idx = [i for i, r in enumerate(replies) if keep(r)]
        f = f1_scores([gold[i] for i in idx], [preds["model"][i] for i in idx])
        print(f"{name:40s}{f['macro']:9.3f}{f['deny']:9.3f}" +
              "".join(f"{f[lab]:9.3f}" for lab in LABELS if lab != "deny") +
              f"   ({len(idx)} replies)")
    # the published figures score source posts too (nearly all 'support'); the same scope here:
    src = source_labels(a.corpus)
    f = f1_scores(gold + [lab for _, lab in src], preds["model"] + ["support"] * len(src))
    print(f"{'model, + source posts as support':40s}{f['macro']:9.3f}{f['deny']:9.3f}" +
          "".join(f"{f[lab]:9.3f}" for lab in LABELS if lab != "deny") +
          f"   ({len(src)} source posts added)")

    print("\npublished reference points (RumourEval 2019 test set: other events, source posts "
          "included)")
    for name, macro, deny in REFERENCES:
        print(f"{name:40s}{macro:9.3f}" + (f"{deny:9.3f}" if deny is not None else f"{'-':>9s}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
