"""Train the reply-stance model on the whole RumourEval 2017 corpus and write it into the package.

    python scripts/train_stance.py                         # → tracker/analysis/stance_model.json
    python scripts/train_stance.py --corpus DIR --out FILE
    python scripts/train_stance.py --v1                    # → the v1 model (stance_model_v1.json)

Reads ../shared/corpus/rumoureval2017 in place. Model v2: first chooses the class-weight power
(``stance.GRID``) by leave-one-event-out over the corpus's events, then fits on every reply with
it. No randomness (fixed data order, lbfgs, one BLAS thread for the encoder and the fit, weights
written to 5 significant digits): running it twice writes the same bytes. Prints the training
size, the replies per stance, the settings tried and chosen, and the file's size and sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_limits  # noqa: E402

from tracker.analysis.stance import MODEL_PATH, V1_MODEL_PATH, V1_SETTINGS, train  # noqa: E402
from tracker.analysis.stance_data import (  # noqa: E402
    DEFAULT_DIR, LABELS, Encoded, events, load_replies, select_settings)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--out", type=Path, default=None,
                    help=f"default {MODEL_PATH.name} ({V1_MODEL_PATH.name} with --v1)")
    ap.add_argument("--v1", action="store_true", help="the v1 model: sparse features only")
    a = ap.parse_args(argv)
    out = a.out or (V1_MODEL_PATH if a.v1 else MODEL_PATH)
    if not (a.corpus / "threads.jsonl").is_file():
        print(f"{a.corpus}: corpus not found (clone with ../shared beside the repo)",
              file=sys.stderr)
        return 2
    replies = load_replies(a.corpus)
    labels = [r.label for r in replies]
    evs = events(replies)
    print(f"training on {len(replies)} labelled replies from {len(evs)} events "
          f"({', '.join(evs)})")
    for lab in LABELS:
        print(f"  {lab:8s}{labels.count(lab):6d}")
    with threadpool_limits(limits=1):
        enc = Encoded.of(replies, embeddings=not a.v1)
        if a.v1:
            settings = dict(V1_SETTINGS)
        elif len(evs) > 1:
            sel = select_settings(replies, list(range(len(replies))), enc)
            for st, macro, deny in sel.table:
                print(f"  leave-one-event-out with {st}: macro-F1 {macro:.3f}, deny F1 {deny:.3f}")
            settings = sel.settings
            print(f"chosen: {settings}")
        else:
            settings = {}
            print("one event only: default settings")
        model = train([r.text for r in replies], [r.parent_text for r in replies], labels,
                      feats=enc.feats, emb=enc.emb, **settings)
    model.save(out)
    data = out.read_bytes()
    print(f"features: {len(model.vocab)} sparse" +
          (f" + {model.coef_emb.shape[1]} embedding + {model.coef_anchor.shape[1]} anchor"
           if model.needs_embeddings else "") +
          f"; class weights: {model.meta['class_weights']}")
    print("cue rules on the training replies: " + ", ".join(
        f"{k} {v['correct']}/{v['fires']} {v['label']}" for k, v in model.meta["rules"].items()))
    print(f"wrote {out} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
