"""Reply stance: the packaged model, its rules and evidence, reproducible training, and
leave-one-event-out on RumourEval 2017 against trivial baselines (skipped without the corpus)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import corpus_dir
from tracker.analysis import stance
from tracker.analysis.stance import (LABELS, MODEL_PATH, StanceModel, StanceResult, cue_rule,
                                     featurize, predict_stance, train)
from tracker.analysis.stance_data import (f1_scores, leave_one_event_out, load_replies,
                                          source_labels)

ROOT = Path(__file__).resolve().parents[2]
CLAIM = "BREAKING: gunmen take hostages at a Sydney cafe and wave an Islamic flag"

EXAMPLES = [  # reply, expected stance, rule that decides ('' = the model)
    ("This is fake news", "deny", "cue:explicit-denial"),
    ("Is this true?", "query", "cue:is-it-true"),
    ("Confirmed by the BBC", "support", "cue:confirmation"),
    ("lol", "comment", ""),
    ("You idiot, they are not ISIS", "deny", ""),
    ("Where did you hear that?", "query", ""),
    ("Thoughts with everyone there", "comment", ""),
]

SMALL = [  # a tiny training set: always available, trains in well under a second
    ("@a This is fake, a hoax", "Gunmen seen at the cafe", "deny"),
    ("not true at all, police denied it", "Gunmen seen at the cafe", "deny"),
    ("that never happened", "Two dead in the shooting", "deny"),
    ("Is this true?", "Gunmen seen at the cafe", "query"),
    ("source? who says so", "Two dead in the shooting", "query"),
    ("really? any proof", "Gunmen seen at the cafe", "query"),
    ("Confirmed by police, gunmen at the cafe", "Gunmen seen at the cafe", "support"),
    ("yes officials confirm two dead", "Two dead in the shooting", "support"),
    ("exactly, it is true", "Two dead in the shooting", "support"),
    ("praying for everyone", "Gunmen seen at the cafe", "comment"),
    ("so sad", "Two dead in the shooting", "comment"),
    ("lol what a day", "Gunmen seen at the cafe", "comment"),
    ("terrible news http://t.co/x", "Two dead in the shooting", "comment"),
]


# ------------------------------------------------------------------ the packaged model

def test_model_file_is_small_json_and_loads():
    assert MODEL_PATH.is_file()
    assert MODEL_PATH.stat().st_size < 2_000_000
    doc = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert doc["format"] == "tracker-stance-model" and doc["labels"] == list(LABELS)
    m = StanceModel.load()
    assert m.coef.shape == (4, len(m.vocab)) and len(m.vocab) == len(set(m.vocab))
    assert m.meta["trained_on"] == sum(m.meta["class_counts"].values())


@pytest.mark.parametrize("reply,label,rule", EXAMPLES)
def test_hand_written_examples(reply, label, rule):
    (res,) = predict_stance([reply], [CLAIM])
    assert isinstance(res, StanceResult)
    assert res.label == label, res
    assert res.rule == (rule or "stance-model v1"), res
    assert res.evidence.strip() and f"p({label})=" in res.evidence
    assert 0.0 <= res.confidence <= 1.0


def test_evidence_names_the_cues():
    deny, query = predict_stance(["Not true. The police denied it", "Source?"], [CLAIM, CLAIM])
    assert deny.label == "deny" and "cue 'not true'" in deny.evidence
    assert query.label == "query" and "rule matched 'source?'" in query.evidence


def test_batch_is_deterministic_and_matches_one_by_one():
    replies = [r for r, _, _ in EXAMPLES] + ["", "RT @x: hostages", "@bob @carol 12 dead?!"]
    parents = [CLAIM] * (len(replies) - 1) + [""]
    a = predict_stance(replies, parents)
    assert predict_stance(replies, parents) == a
    assert [predict_stance([r], [p])[0] for r, p in zip(replies, parents)] == a
    assert all(r.label in LABELS and r.rule and r.evidence for r in a)


def test_inputs_checked():
    assert predict_stance([], []) == []
    with pytest.raises(ValueError, match="2 replies but 1 parents"):
        predict_stance(["a", "b"], ["c"])


def test_cue_rules_respect_questions_and_negations():
    assert cue_rule("This is fake news")[:2] == ("cue:explicit-denial", "deny")
    assert cue_rule("who says it is fake?") is None           # asking, not denying
    assert cue_rule("Confirmed by the BBC")[0] == "cue:confirmation"
    assert cue_rule("Not confirmed by anyone yet") is None     # negated confirmation
    assert cue_rule("@bob Did he really die?")[0] == "cue:question-mark"


def test_prediction_needs_no_scikit_learn():
    code = ("import sys; from tracker.analysis.stance import predict_stance; "
            "predict_stance(['is this true?'], ['x']); "
            "sys.exit(1 if 'sklearn' in sys.modules or 'scipy' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


# ------------------------------------------------------------------ training

def test_training_is_reproducible_on_a_small_set(tmp_path):
    replies, parents, labels = zip(*SMALL)
    a = train(replies, parents, labels)
    b = train(replies, parents, labels, feats=featurize(replies, parents))
    assert a.to_json() == b.to_json()
    a.save(tmp_path / "m.json")
    back = StanceModel.load(tmp_path / "m.json")
    assert back.to_json() == a.to_json()
    assert [r.label for r in predict_stance(replies, parents, model=back, use_rules=False)] \
        == [r.label for r in predict_stance(replies, parents, model=a, use_rules=False)]
    assert a.meta["class_counts"] == {"support": 3, "deny": 3, "query": 3, "comment": 4}


def test_training_refuses_a_single_stance():
    with pytest.raises(ValueError, match="two stances"):
        train(["a", "b"], ["x", "y"], ["comment", "comment"])


@pytest.fixture(scope="module")
def corpus():
    return load_replies(corpus_dir("rumoureval2017"))


@pytest.fixture(scope="module")
def corpus_feats(corpus):
    return featurize([r.text for r in corpus], [r.parent_text for r in corpus])


def _script():
    spec = importlib.util.spec_from_file_location("train_stance",
                                                  ROOT / "scripts" / "train_stance.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_train_script_twice_gives_identical_bytes(tmp_path, corpus, capsys):
    # a small subset of the real corpus: three threads of each of two events
    src = corpus_dir("rumoureval2017")
    keep = {t for ev in ("charliehebdo", "sydneysiege")
            for t in sorted({r.thread_id for r in corpus if r.event == ev})[:3]}
    sub = tmp_path / "corpus"
    sub.mkdir()
    with open(src / "threads.jsonl", encoding="utf-8") as f, \
            open(sub / "threads.jsonl", "w", encoding="utf-8") as out:
        for line in f:
            if line.strip() and str(json.loads(line)["thread_id"]) in keep:
                out.write(line)
    (sub / "labels.json").write_bytes((src / "labels.json").read_bytes())
    script = _script()
    assert script.main(["--corpus", str(sub), "--out", str(tmp_path / "a.json")]) == 0
    assert script.main(["--corpus", str(sub), "--out", str(tmp_path / "b.json")]) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    printed = capsys.readouterr().out
    n = sum(1 for r in corpus if r.thread_id in keep)
    assert f"training on {n} labelled replies" in printed and "deny" in printed


# ------------------------------------------------------------------ the real corpus

def test_corpus_matches_its_description(corpus):
    """SOURCES.md: 3,461 labelled tweets (214 of them source posts) in six events."""
    counts = {lab: sum(1 for r in corpus if r.label == lab) for lab in LABELS}
    for _, lab in source_labels(corpus_dir("rumoureval2017")):
        counts[lab] += 1
    assert counts == {"comment": 2257, "support": 680, "query": 267, "deny": 257}
    assert len({r.event for r in corpus}) == 6
    assert all(r.text and r.parent_text and r.depth >= 1 for r in corpus)


def test_packaged_model_is_the_one_the_script_trains(corpus, corpus_feats):
    """Catches a stale stance_model.json after a change to the features or the corpus."""
    fresh = train([r.text for r in corpus], [r.parent_text for r in corpus],
                  [r.label for r in corpus], feats=corpus_feats)
    packaged = stance.load_model()
    assert fresh.vocab == packaged.vocab and fresh.meta == packaged.meta
    sample = corpus[::7]
    a = predict_stance([r.text for r in sample], [r.parent_text for r in sample], model=fresh)
    b = predict_stance([r.text for r in sample], [r.parent_text for r in sample])
    assert sum(x.label == y.label for x, y in zip(a, b)) >= 0.99 * len(sample)


def test_leave_one_event_out_beats_trivial_baselines(corpus, corpus_feats):
    preds = leave_one_event_out(corpus, feats=corpus_feats)
    gold = [r.label for r in corpus]
    model = f1_scores(gold, preds["model"])
    comment = f1_scores(gold, preds["always comment"])
    cues = f1_scores(gold, preds["cue lexicons only"])
    assert model["macro"] > comment["macro"] and model["deny"] > comment["deny"]
    assert model["macro"] > cues["macro"]
    assert model["deny"] > 0.07     # the RumourEval-2019 baseline's deny F1
