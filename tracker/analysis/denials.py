"""Denials found without a story: every tracked account's post that answers someone and denies.

A story must be declared in config.yaml before the engine labels its denials. This module asks
the question the other way round, over everything collected: which posts of the *tracked
accounts* (config.accounts, resolved through account_handles) reply to, quote or mention
another account, and deny what that account said? For each it gives the denied post (who
claimed what, when), the lag, the stance of the replies to the denial, and the press articles
that name both parties in the days after it. All of it is set-based SQL over posts, accounts,
account_handles, articles and the article views; only the stance model runs in Python, once for
the whole list of candidates and once for the whole list of their replies.

A candidate is a tracked account's post (the latest version of an edited one; not a repost)
with a *target*, by priority:

  reply     it replies to another account's post (a reply in one's own thread is no answer)
  quote     it quotes another account's post
  mention   it names another known account as @handle in its text (any platform's handle: the
            text's @name is looked up in account_handles of the post's platform); the target post
            is that account's post of the MENTION_LOOKBACK_DAYS before with the most salient
            words in common (none in common: the account is known, its post is not)

It is a denial when (first that applies, recorded as ``rule``):

  stance-rule          the stance model's transparent denial rule fired ("this is fake", …)
  stance-model         the model's probability of 'deny' toward the target is >= DENY_THRESHOLD
  negation-cue+stance  the post carries one of the story rules' negation cues
                       (rules.NEGATION_CUES: "only once", "no one should", "not true", …) and
                       p(deny) >= CUE_THRESHOLD, i.e. the model finds 'deny' at least as likely
                       as chance among its four stances

The thresholds were fixed before measuring (a majority for the model alone, no worse than
chance with a cue); ``bench/denials.py`` prints their precision on RumourEval 2017.

Press: an article whose title, summary or text names both parties (the same word-aware
matching as story queries: :func:`tracker.core.storyquery.Term.pattern`), placed at its
article_times time within PRESS_DAYS after the denial. A party is named by the last word of
its display name (the surname of a person), its whole name when that is one word, and its
handle.

Every stance call goes through :func:`stances`, the one place to point at a stance cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Sequence

import duckdb
import pyarrow as pa

from tracker.analysis import rules
from tracker.core.errors import InvalidArgument, TrackerError
from tracker.core.storyquery import Term, parse_query

DENY_THRESHOLD = 0.5          # p(deny) that makes a denial by the model alone
CUE_THRESHOLD = 0.25          # p(deny) that makes a denial with a negation cue (1/4: chance)
PRESS_DAYS = 3                # press that names both parties within this many days after
MENTION_LOOKBACK_DAYS = 7     # a mentioned account's posts this old are candidate targets
DEFAULT_DAYS = 7              # with no --since: the 7 days up to the newest stored post
STANCES = ("support", "deny", "query", "comment")

NEG = rules.cue_pattern(rules.NEGATION_CUES)
# an @handle in a post's text: letters, digits, '_', and the '.', '-' and '@' of handles that
# carry a domain; not preceded by a word character (so no e-mail address)
MENTION_RE = r"(?:^|[^\p{L}\p{N}_])@([\p{L}\p{N}_][\p{L}\p{N}_.@-]*)"
WORD_RE = r"\p{L}{4,}"        # a salient-word candidate (SQL side)
_WORD = re.compile(r"[^\W\d_]{3,}")
_HANDLE_OR_URL = re.compile(r"(?<![\w@])@[\w.@-]+|https?://\S+")

# English function words and frequent verbs: never salient (the stance model's list is about
# stance; this one is about topic)
STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't down during each few for from further had hadn't has hasn't have haven't
having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm
i've if in into is isn't it it's its itself just let's me more most mustn't my myself no nor not
of off on once only or other ought our ours ourselves out over own same shan't she she'd she'll
she's should shouldn't so some such than that that's the their theirs them themselves then there
there's these they they'd they'll they're they've this those through to too under until up very
was wasn't we we'd we'll we're we've were weren't what what's when when's where where's which
while who who's whom why why's will with won't would wouldn't you you'd you'll you're you've your
yours yourself yourselves said says say told tell tells told asked ask know knew think thought
want wanted like just really still even ever never always every much many also would could
should might must shall will may one two three first last next new now today yesterday tomorrow
year years month months week weeks day days time times ago way ways thing things people get got
make made going gone come came see seen look well yes yeah okay sure thanks thank please
nothing something anything everything nobody somebody anybody everybody someone anyone
everyone none
""".split())


# ------------------------------------------------------------------------------------ results

@dataclass(frozen=True)
class PressArticle:
    url: str
    outlet: str | None
    title: str | None
    at: datetime                 # article_times.event_at
    clock: str                   # published_at | gdelt_seen_at | first_seen_at


@dataclass
class Denial:
    platform: str
    post_id: str
    created_at: datetime
    account: str                 # the denier's handle
    account_name: str | None
    text: str
    url: str | None
    relation: str                # reply | quote | mention
    denied_account: str | None   # who is denied (handle; the account id when no handle known)
    denied_name: str | None
    denied_post_id: str | None   # the denied post (None: a mention with no related post)
    denied_at: datetime | None
    denied_text: str | None
    denied_url: str | None
    lag: timedelta | None        # created_at - denied_at
    score: float                 # the model's p(deny) toward the denied post
    stance: str                  # the stance model's label toward it
    cue: str | None              # the negation cue the post carries, lower-cased
    rule: str                    # stance-rule | stance-model | negation-cue+stance
    evidence: str
    deleted_at: datetime | None = None
    replies: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STANCES, 0))
    press: list[PressArticle] = field(default_factory=list)
    # internal: who is who (account ids), for the press and the story stanza
    author_id: str | None = None
    denied_author_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.post_id}"


@dataclass(frozen=True)
class Stance:
    label: str
    confidence: float
    rule: str
    evidence: str
    p_deny: float


# ------------------------------------------------------------------------------------- stance

def stances(replies: Sequence[str], parents: Sequence[str], model=None) -> list[Stance]:
    """The stance of each text toward its parent ('' when unknown), with the model's p(deny).

    The one place denials call the stance model (point it at a stance cache here): one pass
    of features and sentence embeddings for the whole list. ``model``: a
    :class:`tracker.analysis.stance.StanceModel` (default: the packaged one; the bench passes
    models trained without the event it measures)."""
    if not replies:
        return []
    from tracker.analysis import stance as sm       # numpy and the model: on first use only

    feats = sm.featurize(replies, parents)
    model = model or sm.load_model()
    emb = sm.embed(replies) if model.needs_embeddings else None
    results = sm.predict_featurized(replies, feats, model=model, emb=emb)
    p_deny = model.proba(feats, emb)[:, list(model.labels).index("deny")]
    return [Stance(r.label, float(r.confidence), r.rule, r.evidence, round(float(p), 4))
            for r, p in zip(results, p_deny)]


def decide(st: Stance, cue: str | None) -> str | None:
    """The rule that makes a post a denial (module docstring), or None."""
    if st.label == "deny" and st.rule.startswith("cue:"):
        return "stance-rule"
    if st.p_deny >= DENY_THRESHOLD:
        return "stance-model"
    if cue and st.p_deny >= CUE_THRESHOLD:
        return "negation-cue+stance"
    return None


# ---------------------------------------------------------------------------------- accounts

def _pairs(accounts: Iterable) -> list[tuple[str, str]]:
    out = []
    for a in accounts:
        platform, handle = ((a.platform, a.handle) if hasattr(a, "handle") else tuple(a))
        if platform and handle:
            out.append((str(platform), str(handle).lstrip("@")))
    return list(dict.fromkeys(out))


def select_accounts(accounts: Iterable, account: str | None) -> list[tuple[str, str]]:
    """The tracked (platform, handle) pairs, narrowed to ``account`` (HANDLE or
    PLATFORM:HANDLE, case-insensitive); InvalidArgument when it is not tracked."""
    pairs = _pairs(accounts)
    if account is None:
        return pairs
    want = account.strip().lstrip("@").lower()
    platform = None
    m = re.fullmatch(r"([a-z][a-z0-9_]*):@?(.+)", want)
    if m and not any(h.lower() == want for _, h in pairs):
        platform, want = m.group(1), m.group(2)
    found = [(p, h) for p, h in pairs if h.lower() == want and platform in (None, p)]
    if not found:
        known = ", ".join(f"{p}:{h}" for p, h in pairs) or "none"
        raise InvalidArgument(f"--account {account}: not a tracked account (config.yaml "
                              f"accounts: {known})")
    return found


def _tracked(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str]]) -> None:
    """Temp table _den_tracked: each tracked (platform, handle) and its account id (the
    account that held the handle last). One statement however many accounts are tracked."""
    con.register("_den_pairs_in", pa.table({"platform": [p for p, _ in pairs],
                                            "handle": [h for _, h in pairs]},
                                           schema=pa.schema([("platform", pa.string()),
                                                             ("handle", pa.string())])))
    try:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _den_tracked AS
            SELECT i.platform, i.handle,
                   (SELECT arg_max(h.account_id, h.last_seen_at) FROM account_handles h
                    WHERE h.platform = i.platform AND lower(h.handle) = lower(i.handle))
                       AS account_id
            FROM _den_pairs_in i""")
    finally:
        con.unregister("_den_pairs_in")


# ------------------------------------------------------------------------------- candidates

_LATEST = ("NOT EXISTS (SELECT 1 FROM posts q WHERE q.platform = {p}.platform AND "
           "q.edit_chain_id = {p}.edit_chain_id AND q.post_id <> {p}.post_id AND "
           "q.created_at > {p}.created_at)")
_WORDS = ("list_distinct(list_filter(regexp_extract_all(lower(COL), $word), "
          "lambda w: NOT list_contains($stop, w)))")


def _candidates(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime,
                post: tuple[str, str] | None = None) -> list[dict]:
    """The tracked accounts' posts in [since, until) (or the one ``post``) that answer
    someone, each with its target (module docstring), its parties and its negation cue."""
    where = ("p.created_at >= $since AND p.created_at < $until" if post is None
             else "p.platform = $platform AND p.post_id = $post_id")
    params = {"since": since, "until": until} if post is None else {
        "platform": post[0], "post_id": post[1]}
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _den_mine AS
        SELECT p.platform, p.post_id, p.author_id, p.created_at, p.text, p.url, p.deleted_at,
               p.reply_to_post_id, p.reply_to_user_id, p.quoted_post_id
        FROM posts p JOIN _den_tracked t ON t.platform = p.platform AND t.account_id = p.author_id
        WHERE p.reposted_post_id IS NULL AND {where} AND {_LATEST.format(p='p')}""", params)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _den_cand AS
        WITH rel AS (
            SELECT m.platform, m.post_id, 'reply' AS relation, 1 AS pri,
                   m.reply_to_post_id AS target_id,
                   coalesce(rp.author_id, m.reply_to_user_id) AS target_author, 0 AS overlap,
                   rp.created_at AS target_at
            FROM _den_mine m
            LEFT JOIN posts rp ON rp.platform = m.platform AND rp.post_id = m.reply_to_post_id
            WHERE m.reply_to_post_id IS NOT NULL
              AND coalesce(rp.author_id, m.reply_to_user_id) <> m.author_id
            UNION ALL
            SELECT m.platform, m.post_id, 'quote', 2, m.quoted_post_id, qp.author_id, 0,
                   qp.created_at
            FROM _den_mine m
            JOIN posts qp ON qp.platform = m.platform AND qp.post_id = m.quoted_post_id
            WHERE qp.author_id <> m.author_id
        ), named AS (
            SELECT DISTINCT platform, post_id, author_id, created_at, text,
                   rtrim(unnest(regexp_extract_all(text, $mention, 1)), '.') AS name
            FROM _den_mine
        ), mentioned AS (
            SELECT DISTINCT n.platform, n.post_id, n.created_at, n.text,
                   h.account_id AS target_author
            FROM named n JOIN account_handles h
              ON h.platform = n.platform AND lower(h.handle) = lower(n.name)
            WHERE h.account_id <> n.author_id
        ), mention_posts AS (
            SELECT mm.platform, mm.post_id, 'mention' AS relation, 3 AS pri,
                   CASE WHEN len(list_intersect({_WORDS.replace('COL', 'mm.text')},
                                               {_WORDS.replace('COL', 'q.text')})) > 0
                        THEN q.post_id END AS target_id,
                   mm.target_author,
                   coalesce(len(list_intersect({_WORDS.replace('COL', 'mm.text')},
                                               {_WORDS.replace('COL', 'q.text')})), 0) AS overlap,
                   q.created_at AS target_at
            FROM mentioned mm
            LEFT JOIN posts q ON q.platform = mm.platform AND q.author_id = mm.target_author
             AND q.reposted_post_id IS NULL AND q.created_at < mm.created_at
             AND q.created_at >= mm.created_at - to_days($lookback)
        )
        SELECT * FROM (SELECT * FROM rel UNION ALL SELECT * FROM mention_posts)
        QUALIFY row_number() OVER (PARTITION BY platform, post_id
                                   ORDER BY pri, overlap DESC, target_at DESC NULLS LAST,
                                            target_author, target_id) = 1""",
                {"mention": MENTION_RE, "stop": sorted(STOPWORDS), "word": WORD_RE,
                 "lookback": MENTION_LOOKBACK_DAYS})
    cur = con.execute("""
        SELECT c.platform, c.post_id, c.relation, c.target_id, c.target_author,
               m.author_id, m.created_at, m.text, m.url, m.deleted_at,
               coalesce(a.handle, m.author_id) AS account, a.name AS account_name,
               tp.created_at AS denied_at, tp.text AS denied_text, tp.url AS denied_url,
               coalesce(ta.handle, (SELECT arg_max(h.handle, h.last_seen_at)
                                    FROM account_handles h WHERE h.platform = c.platform
                                      AND h.account_id = c.target_author),
                        c.target_author) AS denied_account,
               ta.name AS denied_name,
               nullif(lower(coalesce(regexp_extract(
                   regexp_replace(m.text, '@[^\\s]+', ' ', 'g'), $neg, 1), '')), '') AS cue
        FROM _den_cand c JOIN _den_mine m USING (platform, post_id)
        LEFT JOIN accounts a ON a.platform = m.platform AND a.account_id = m.author_id
        LEFT JOIN posts tp ON tp.platform = c.platform AND tp.post_id = c.target_id
        LEFT JOIN accounts ta ON ta.platform = c.platform AND ta.account_id = c.target_author
        ORDER BY m.created_at DESC, c.platform, c.post_id""", {"neg": NEG})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _describe(c: dict) -> str:
    who = f"@{c['denied_account']}" if c["denied_account"] else "someone"
    if c["relation"] == "mention":
        what = (f"mentions {who}, whose post {c['target_id']} it shares words with"
                if c["target_id"] else f"mentions {who} (no related post of theirs found)")
    else:
        what = f"{'reply to' if c['relation'] == 'reply' else 'quote of'} {who}'s post " \
               f"{c['target_id']}"
        if c["denied_text"] is None:
            what += " (not stored)"
    return what


def _denial(c: dict, st: Stance, rule: str) -> Denial:
    ev = [_describe(c)]
    if rule == "stance-rule":
        ev.append(f"stance rule {st.rule}: {st.evidence}")
    else:
        if c["cue"]:
            ev.append(f"negation cue '{c['cue']}'")
        bar = DENY_THRESHOLD if rule == "stance-model" else CUE_THRESHOLD
        ev.append(f"p(deny)={st.p_deny:.2f} >= {bar:g}"
                  + (" with the cue" if rule == "negation-cue+stance" else ""))
        ev.append(f"stance {st.label} ({st.rule})")
    lag = (c["created_at"] - c["denied_at"]) if c["denied_at"] is not None else None
    return Denial(
        platform=c["platform"], post_id=c["post_id"], created_at=_utc(c["created_at"]),
        account=c["account"], account_name=c["account_name"], text=c["text"] or "",
        url=c["url"], relation=c["relation"], denied_account=c["denied_account"],
        denied_name=c["denied_name"], denied_post_id=c["target_id"],
        denied_at=_utc(c["denied_at"]), denied_text=c["denied_text"],
        denied_url=c["denied_url"], lag=lag, score=st.p_deny, stance=st.label, cue=c["cue"],
        rule=rule, evidence="; ".join(ev), deleted_at=_utc(c["deleted_at"]),
        author_id=c["author_id"], denied_author_id=c["target_author"])


def _utc(v):
    return v.astimezone(timezone.utc) if isinstance(v, datetime) else v


# ----------------------------------------------------------------------- replies and press

def _reply_stances(con: duckdb.DuckDBPyConnection, found: list[Denial], model=None) -> None:
    """Each denial's replies by other accounts (latest versions, no reposts), by stance
    toward the denial."""
    if not found:
        return
    con.register("_den_found_in", pa.table({
        "platform": [d.platform for d in found], "post_id": [d.post_id for d in found],
        "author_id": [d.author_id for d in found]}))
    try:
        rows = con.execute(f"""
            SELECT f.platform, f.post_id, r.text, d.text
            FROM _den_found_in f
            JOIN posts d ON d.platform = f.platform AND d.post_id = f.post_id
            JOIN posts r ON r.platform = f.platform AND r.reply_to_post_id = f.post_id
            WHERE r.reposted_post_id IS NULL AND r.author_id IS DISTINCT FROM f.author_id
              AND {_LATEST.format(p='r')}
            ORDER BY f.platform, f.post_id, r.created_at, r.post_id""").fetchall()
    finally:
        con.unregister("_den_found_in")
    by_key = {d.key: d for d in found}
    for (platform, post_id, _, _), st in zip(rows, stances([r[2] or "" for r in rows],
                                                           [r[3] or "" for r in rows], model)):
        by_key[f"{platform}:{post_id}"].replies[st.label] += 1


_NAME_SUFFIXES = frozenset("jr sr ii iii iv phd md esq".split())


def party_terms(name: str | None, handle: str | None) -> list[Term]:
    """How the press names an account: the last word of its display name (a person's surname,
    at least two letters: Wu, Xi; the whole name when it is one word; bracketed parts and
    suffixes such as Jr. or PhD dropped) and its handle."""
    out: list[Term] = []
    words = re.sub(r"\([^)]*\)|\[[^]]*\]", " ", name or "").split()
    words = [w.strip(".,;:!?\"'“”‘’") for w in words]
    words = [w for w in words if re.search(r"[^\W\d_]", w)]
    while len(words) > 1 and words[-1].lower().strip(".") in _NAME_SUFFIXES:
        words.pop()
    if words and len(re.sub(r"\W", "", words[-1])) >= 2:
        out.append(Term((words[-1],)))
    if handle:
        out.append(Term((handle,)))
    seen, uniq = set(), []
    for t in out:
        if str(t).lower() not in seen:
            seen.add(str(t).lower())
            uniq.append(t)
    return uniq


def _press(con: duckdb.DuckDBPyConnection, found: list[Denial], days: int) -> None:
    """Articles naming both parties within ``days`` after each denial (set-based)."""
    rows = []
    for d in found:
        a = [t.pattern() for t in party_terms(d.account_name, d.account)]
        b = [t.pattern() for t in party_terms(d.denied_name, d.denied_account)]
        if a and b and d.denied_account:
            rows.append((d.platform, d.post_id, d.created_at, a, b))
    if not rows:
        return
    con.register("_den_press_in", pa.table({
        "platform": [r[0] for r in rows], "post_id": [r[1] for r in rows],
        "at": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
        "pa": [r[3] for r in rows], "pb": [r[4] for r in rows]}))
    try:
        got = con.execute("""
            WITH art AS (
                SELECT a.url, a.title, concat_ws(' ', a.title, a.summary, a.text) AS body,
                       t.event_at, t.clock, o.outlet
                FROM articles a JOIN article_times t ON t.url = a.url
                LEFT JOIN article_outlets o ON o.url = a.url
            )
            SELECT d.platform, d.post_id, art.url, art.outlet, art.title, art.event_at, art.clock
            FROM _den_press_in d JOIN art
              ON art.event_at >= d.at AND art.event_at < d.at + to_days($days)
            WHERE len(list_filter(d.pa, lambda x: regexp_matches(art.body, x))) > 0
              AND len(list_filter(d.pb, lambda x: regexp_matches(art.body, x))) > 0
            ORDER BY d.platform, d.post_id, art.event_at, art.url""", {"days": days}).fetchall()
    finally:
        con.unregister("_den_press_in")
    by_key = {d.key: d for d in found}
    for platform, post_id, url, outlet, title, at, clock in got:
        by_key[f"{platform}:{post_id}"].press.append(
            PressArticle(url, outlet, title, _utc(at), clock))


# ------------------------------------------------------------------------------------- public

def newest_post_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest stored post's time (the data's "now")."""
    v = con.execute("SELECT max(created_at) FROM posts").fetchall()[0][0]
    return _utc(v)


def default_since(con: duckdb.DuckDBPyConnection, days: int = DEFAULT_DAYS) -> datetime:
    """``days`` before the newest stored post (so an archive reads like the morning it was
    collected); the epoch when nothing is stored."""
    newest = newest_post_at(con)
    if newest is None:
        return datetime(1970, 1, 1, tzinfo=timezone.utc)
    return newest - timedelta(days=days)


def find_denials(con: duckdb.DuckDBPyConnection, accounts: Iterable, *,
                 since: datetime | None = None, until: datetime | None = None,
                 account: str | None = None, press_days: int = PRESS_DAYS,
                 limit: int | None = None, model=None) -> list[Denial]:
    """Every denial by the tracked ``accounts`` (config.accounts, or (platform, handle) pairs)
    created in [since, until), newest first, with its replies' stances and its press.

    ``since`` defaults to DEFAULT_DAYS before the newest stored post; ``account`` narrows to one
    tracked handle (HANDLE or PLATFORM:HANDLE); ``limit`` keeps the newest; ``model`` is the
    stance model (default: the packaged one). Reads only (temporary tables aside): a read-only
    connection will do."""
    pairs = select_accounts(accounts, account)
    if not pairs:
        return []
    since = since or default_since(con)
    until = until or datetime(9999, 1, 1, tzinfo=timezone.utc)
    _tracked(con, pairs)
    cands = _candidates(con, since, until)
    found = _judge(cands, model)
    if limit is not None:
        found = found[:limit]
    _reply_stances(con, found, model)
    _press(con, found, press_days)
    return found


def _judge(cands: list[dict], model=None) -> list[Denial]:
    sts = stances([c["text"] or "" for c in cands], [c["denied_text"] or "" for c in cands],
                  model)
    out = []
    for c, st in zip(cands, sts):
        rule = decide(st, c["cue"])
        if rule is not None:
            out.append(_denial(c, st, rule))
    return out


def parse_post_ref(ref: str) -> tuple[str | None, str]:
    """'PLATFORM:ID' or a bare post id → (platform or None, post id)."""
    ref = (ref or "").strip()
    m = re.fullmatch(r"([a-z][a-z0-9_]*):(.+)", ref)
    if m:
        return m.group(1), m.group(2)
    if not ref or any(c.isspace() for c in ref):
        raise InvalidArgument(f"post {ref!r}: give a post id or PLATFORM:ID")
    return None, ref


def candidate(con: duckdb.DuckDBPyConnection, accounts: Iterable, ref: str) -> Denial:
    """The tracked account's post ``ref`` (an id or PLATFORM:ID) as a denial, whether or not
    the rules flag it (``rule`` then says 'not flagged'), with its replies and press.
    TrackerError when it is no tracked account's post that answers someone."""
    platform, post_id = parse_post_ref(ref)
    found = [r[0] for r in con.execute(
        "SELECT DISTINCT platform FROM posts WHERE post_id = ? ORDER BY 1", [post_id]).fetchall()]
    if platform is not None and platform not in found:
        raise TrackerError(f"post {platform}:{post_id} is not in the database")
    if platform is None:
        if not found:
            raise TrackerError(f"post {post_id} is not in the database")
        if len(found) > 1:
            raise TrackerError(f"post {post_id} is on several platforms ({', '.join(found)}): "
                               f"give PLATFORM:{post_id}")
        platform = found[0]
    _tracked(con, _pairs(accounts))
    cands = _candidates(con, datetime.min.replace(tzinfo=timezone.utc),
                        datetime.max.replace(tzinfo=timezone.utc), post=(platform, post_id))
    if not cands:
        raise TrackerError(f"post {platform}:{post_id} is not a tracked account's latest post "
                           "that replies to, quotes or mentions another account")
    c = cands[0]
    st = stances([c["text"] or ""], [c["denied_text"] or ""])[0]
    d = _denial(c, st, decide(st, c["cue"]) or "not flagged")
    _reply_stances(con, [d])
    _press(con, [d], PRESS_DAYS)
    return d


# ------------------------------------------------------------------------------ as a table

COLUMNS = ("created_at", "account", "relation", "denied_account", "denied_at", "lag", "score",
           "rule", "cue", "text", "denied_text", "replies", "support", "deny", "query",
           "comment", "press", "press_first_at", "press_outlets", "platform", "post_id",
           "denied_post_id", "url", "denied_url", "deleted_at", "evidence", "press_urls")


def denials_frame(found: list[Denial]):
    """The denials as a DataFrame, one row each (COLUMNS); press_urls is a list."""
    import pandas as pd

    rows = []
    for d in found:
        rows.append({
            "created_at": d.created_at, "account": d.account, "relation": d.relation,
            "denied_account": d.denied_account, "denied_at": d.denied_at, "lag": d.lag,
            "score": d.score, "rule": d.rule, "cue": d.cue, "text": d.text,
            "denied_text": d.denied_text, "replies": sum(d.replies.values()), **d.replies,
            "press": len(d.press),
            "press_first_at": d.press[0].at if d.press else None,
            "press_outlets": ", ".join(dict.fromkeys(p.outlet or "" for p in d.press)) or None,
            "platform": d.platform, "post_id": d.post_id, "denied_post_id": d.denied_post_id,
            "url": d.url, "denied_url": d.denied_url, "deleted_at": d.deleted_at,
            "evidence": d.evidence, "press_urls": [p.url for p in d.press]})
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    for c in ("created_at", "denied_at", "press_first_at", "deleted_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    df["lag"] = pd.to_timedelta(df["lag"])
    return df


# ------------------------------------------------------------------------ a story stanza

def salient_words(denied_text: str, denial_text: str, exclude: Iterable[str] = (),
                  n: int = 4) -> list[str]:
    """The topic words of a claim and its denial, for a story query: proper nouns (capitalized
    mid-sentence) and long words both posts use, then the rest by the same score; stopwords,
    @handles, links and ``exclude`` (the parties' names) left out. Each as first written."""
    skip = {w.lower() for w in exclude}
    score: dict[str, float] = {}
    shown: dict[str, str] = {}
    order: dict[str, int] = {}
    seen_in: dict[str, set[int]] = {}
    for k, text in enumerate((denied_text or "", denial_text or "")):
        text = _HANDLE_OR_URL.sub(" ", text)
        for m in _WORD.finditer(text):
            w = m.group(0)
            low = w.lower()
            if low in STOPWORDS or low in skip:
                continue
            before = text[:m.start()].rstrip()
            capital = w[0].isupper() and not w.isupper() and before != "" \
                and before[-1] not in ".!?"
            shown.setdefault(low, w)
            if capital and not shown[low][0].isupper():
                shown[low] = w
            order.setdefault(low, len(order))
            seen_in.setdefault(low, set()).add(k)
            score[low] = max(score.get(low, 0), 3 if capital else 0)
    for low in score:
        score[low] += (2 if len(seen_in[low]) == 2 else 0) + (1 if len(low) >= 7 else 0)
    ranked = sorted(score, key=lambda w: (-score[w], order[w]))
    picked = [w for w in ranked if score[w] >= 3][:n]
    if not picked:
        picked = [w for w in ranked if score[w] >= 1][:min(n, 3)]
    return [shown[w] for w in picked]


def _query_word(t: Term) -> str:
    return str(t) if len(t.words) > 1 or not re.search(r"[\s()\"*]", t.words[0]) \
        else '"' + t.words[0] + '"'


def story_stanza(d: Denial, story_id: str | None = None) -> dict:
    """A story for the analyst to refine, from a denial: the denied account as claimant, the
    denier as subject, a query of the two posts' salient words AND a party's name, and a window
    from a week before the denied post to two weeks after the denial (UTC dates)."""
    if not d.denied_account:
        raise TrackerError(f"post {d.key}: whom it denies is not known")
    parties = party_terms(d.denied_name, d.denied_account) + party_terms(d.account_name,
                                                                         d.account)
    names = {w for t in parties for w in t.words}
    for n in (d.account_name, d.denied_name):
        names |= set(re.findall(r"[^\W\d_]+", n or ""))
    topic = salient_words(d.denied_text or "", d.text, exclude=names)
    who = " OR ".join(_query_word(t) for t in parties)
    query = f"({' OR '.join(topic)}) AND ({who})" if topic else who
    parse_query(query)
    start = (d.denied_at or d.created_at).date() - timedelta(days=7)
    end = d.created_at.date() + timedelta(days=14)
    sid = story_id or default_story_id(d)
    claim = " ".join((d.denied_text or "").split())
    if len(claim) > 80:
        claim = claim[:79].rstrip() + "…"
    title = (f"Did @{d.denied_account} say it, as @{d.account} denies? “{claim}”" if claim
             else f"What did @{d.account} deny to @{d.denied_account}?")
    return {"id": sid, "title": title, "query": query,
            "window": {"start": start, "end": end},
            "actors": [{"platform": d.platform, "handle": d.denied_account, "role": "claimant"},
                       {"platform": d.platform, "handle": d.account, "role": "subject"}]}


def default_story_id(d: Denial) -> str:
    """'<denier>-denies-<denied>-<date>' in story-id characters (at most 64)."""
    def part(s: str) -> str:
        return re.sub(r"[^a-z0-9_-]+", "-", (s or "").lower()).strip("-_") or "someone"
    day: date = d.created_at.date()
    base = f"{part(d.account)[:24]}-denies-{part(d.denied_account or '')[:24]}"
    return f"{base}-{day:%Y-%m-%d}"[:64].strip("-_")
