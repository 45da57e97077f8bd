"""Train the reply-stance model on the whole RumourEval 2017 corpus and write it into the package.

    python scripts/train_stance.py                         # → tracker/analysis/stance_model.json
    python scripts/train_stance.py --corpus DIR --out FILE

Reads ../shared/corpus/rumoureval2017 in place. No randomness (fixed data order, lbfgs, one BLAS
thread, weights written to 5 significant digits): running it twice writes the same bytes.
Prints the training size, the replies per stance, the vocabulary and the file's size and sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker.analysis.stance import MODEL_PATH, train  # noqa: E402
from tracker.analysis.stance_data import DEFAULT_DIR, LABELS, events, load_replies  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    a = ap.parse_args(argv)
    if not (a.corpus / "threads.jsonl").is_file():
        print(f"{a.corpus}: corpus not found (clone with ../shared beside the repo)",
              file=sys.stderr)
        return 2
    replies = load_replies(a.corpus)
    labels = [r.label for r in replies]
    print(f"training on {len(replies)} labelled replies from {len(events(replies))} events "
          f"({', '.join(events(replies))})")
    for lab in LABELS:
        print(f"  {lab:8s}{labels.count(lab):6d}")
    model = train([r.text for r in replies], [r.parent_text for r in replies], labels)
    model.save(a.out)
    data = a.out.read_bytes()
    print(f"features: {len(model.vocab)}; class weights: {model.meta['class_weights']}")
    print("cue rules on the training replies: " + ", ".join(
        f"{k} {v['correct']}/{v['fires']} {v['label']}" for k, v in model.meta["rules"].items()))
    print(f"wrote {a.out} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
