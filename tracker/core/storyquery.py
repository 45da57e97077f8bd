"""Story queries: AND, OR, NOT, "quoted phrases", parentheses, and prefix* terms.

A query compiles to a DuckDB boolean expression whose patterns travel as parameters (never
spliced into SQL). Matching is case-insensitive and word-aware: "Elon" matches "elon" but not
"Elongated"; a phrase matches its words in order with any whitespace between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Letters and digits of any script count as word characters (RE2 syntax, DuckDB's regex engine).
_W = r"[\p{L}\p{N}_]"
_BEFORE = r"(?:^|[^\p{L}\p{N}_])"
_AFTER = r"(?:$|[^\p{L}\p{N}_])"
_RE2_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


# Deeper nesting than any real query needs; it also keeps the parser and the SQL it writes
# far from Python's recursion limit.
MAX_DEPTH = 32


class QuerySyntaxError(ValueError):
    def __init__(self, message: str, position: int):
        super().__init__(f"{message} at position {position}")
        self.position = position


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    prefix: bool = False

    def pattern(self) -> str:
        body = r"\s+".join(_RE2_SPECIAL.sub(r"\\\1", w.lower()) for w in self.words)
        return "(?i)" + _BEFORE + body + (rf"{_W}*" if self.prefix else "") + _AFTER

    def __str__(self) -> str:
        text = " ".join(self.words)
        return (f'"{text}"' if len(self.words) > 1 else text) + ("*" if self.prefix else "")


@dataclass(frozen=True)
class Not:
    node: object


@dataclass(frozen=True)
class And:
    nodes: tuple


@dataclass(frozen=True)
class Or:
    nodes: tuple


_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)("?)|([^\s()"]+))')


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise QuerySyntaxError(f"unexpected {text[pos]!r}", pos)
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        if m.group(1):
            out.append(("(", "(", start))
        elif m.group(2):
            out.append((")", ")", start))
        elif m.group(3) is not None:
            if not m.group(4):
                raise QuerySyntaxError("unclosed quote", start)
            out.append(("PHRASE", m.group(3), start))
        elif m.group(5):
            word = m.group(5)
            kind = word if word in ("AND", "OR", "NOT") else "WORD"
            out.append((kind, word, start))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else ("END", "", len(self.text))

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self):
        if not self.toks:
            raise QuerySyntaxError("empty query", 0)
        node = self.or_()
        kind, value, pos = self.peek()
        if kind != "END":
            raise QuerySyntaxError(f"unexpected {value!r}", pos)
        return node

    def or_(self):
        nodes = [self.and_()]
        while self.peek()[0] == "OR":
            self.take()
            nodes.append(self.and_())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def and_(self):
        nodes = [self.not_()]
        while self.peek()[0] in ("AND", "NOT", "WORD", "PHRASE", "("):
            if self.peek()[0] == "AND":
                self.take()
            nodes.append(self.not_())
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def not_(self):
        nots = 0
        while self.peek()[0] == "NOT":      # NOT NOT … in a loop: no recursion to exhaust
            _, _, pos = self.take()
            nots += 1
        node = self.atom()
        return Not(node) if nots % 2 else node       # NOT NOT x is x

    def atom(self):
        kind, value, pos = self.take()
        if kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QuerySyntaxError(f"more than {MAX_DEPTH} nested parentheses", pos)
            node = self.or_()
            self.depth -= 1
            k, v, p = self.take()
            if k != ")":
                raise QuerySyntaxError("missing ')'", p)
            return node
        if kind == "WORD":
            prefix = value.endswith("*")
            word = value.rstrip("*")
            if not word:
                raise QuerySyntaxError("'*' needs a word before it", pos)
            return Term((word,), prefix)
        if kind == "PHRASE":
            words = tuple(value.split())
            if not words:
                raise QuerySyntaxError("empty phrase", pos)
            return Term(words)
        if kind == "END":
            raise QuerySyntaxError("query ends too early", pos)
        raise QuerySyntaxError(f"unexpected {value!r}", pos)


def parse_query(text: str):
    """Parse a story query; raises QuerySyntaxError with the position of the problem."""
    return _Parser(text or "").parse()


def terms(node) -> list[Term]:
    """The positive terms of a query (used to report which words matched)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    out = []
    for n in node.nodes:
        out.extend(terms(n))
    return out


def to_sql(node, column: str) -> tuple[str, list[str]]:
    """A SQL boolean expression over ``column`` and its regex parameters."""
    if isinstance(node, Term):
        return f"regexp_matches({column}, ?)", [node.pattern()]
    if isinstance(node, Not):
        sql, params = to_sql(node.node, column)
        return f"(NOT coalesce({sql}, false))", params
    parts, params = [], []
    for n in node.nodes:
        s, p = to_sql(n, column)
        parts.append(s)
        params.extend(p)
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(parts) + ")", params


# The words of a text, as `to_words_sql` expects them: lower case, split at every character
# that is not a letter, digit or underscore (the same boundaries as Term.pattern()).
WORDS_SQL = r"regexp_split_to_array(lower({text}), '[^\p{{L}}\p{{N}}_]+')"
_PLAIN_WORD = re.compile(r"[a-z0-9_]+")


def to_words_sql(node, words: str, text: str, phrases_by_pattern: bool = False
                 ) -> tuple[str, list]:
    """Like ``to_sql``, over ``words`` (the text's words, WORDS_SQL) where a term allows it:
    a word of plain letters and digits is a list lookup, a prefix a list scan, a phrase needs
    its words present before its pattern is tried on ``text`` (with ``phrases_by_pattern``, only
    its pattern: then ``words`` need hold only the ``lookup_words``). Other terms use the
    pattern. The same rows match as with ``to_sql``."""
    if isinstance(node, Term):
        ws = [w.lower() for w in node.words]
        if not all(_PLAIN_WORD.fullmatch(w) for w in ws):
            return f"regexp_matches({text}, ?)", [node.pattern()]
        if len(ws) == 1 and node.prefix:
            return f"list_bool_or(list_transform({words}, lambda x: starts_with(x, ?)))", [ws[0]]
        if len(ws) == 1:
            return f"list_contains({words}, ?)", [ws[0]]
        if phrases_by_pattern:
            return f"regexp_matches({text}, ?)", [node.pattern()]
        need = ws[:-1] if node.prefix else ws
        # one list_contains per word: DuckDB's list_has_all is ten times slower
        present = " AND ".join(f"list_contains({words}, ?)" for _ in need)
        return f"({present} AND regexp_matches({text}, ?))", [*need, node.pattern()]
    if isinstance(node, Not):
        sql, params = to_words_sql(node.node, words, text, phrases_by_pattern)
        return f"(NOT coalesce({sql}, false))", params
    parts, params = [], []
    for n in node.nodes:
        sq, pa = to_words_sql(n, words, text, phrases_by_pattern)
        parts.append(sq)
        params.extend(pa)
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(parts) + ")", params


def lookup_words(node) -> set[str]:
    """The words ``to_words_sql(..., phrases_by_pattern=True)`` looks up in a text's word
    list: the word of every one-word term of plain letters and digits, asked for or negated."""
    if isinstance(node, Term):
        w = node.words[0].lower()
        return {w} if len(node.words) == 1 and _PLAIN_WORD.fullmatch(w) else set()
    if isinstance(node, Not):
        return lookup_words(node.node)
    return set().union(*(lookup_words(n) for n in node.nodes))


def words_holding_sql(words, text: str) -> str:
    """The words of ``text`` (as WORDS_SQL splits them) that contain one of ``words``: for a
    query whose ``lookup_words`` are among them, ``to_words_sql(..., phrases_by_pattern=True)``
    over this list gives what ``to_words_sql`` gives over every word. One regex scan (a token
    holding a word is matched whole, from its first character to its last), several times
    cheaper than splitting every text."""
    ws = sorted(set(words), key=lambda w: (-len(w), w))
    if not ws:
        return "[]::VARCHAR[]"
    bad = [w for w in ws if not _PLAIN_WORD.fullmatch(w)]
    if bad:
        raise ValueError(f"not plain words: {bad}")
    return (f"regexp_extract_all(lower({text}), "
            rf"'[\p{{L}}\p{{N}}_]*(?:{'|'.join(ws)})[\p{{L}}\p{{N}}_]*')")


def required_words(node) -> set[tuple[str, bool]] | None:
    """Words, as (word, is_prefix), of which a text must hold at least one to match ``node``
    (words as WORDS_SQL splits them); None when it can match without any (a NOT, or a term
    that is not plain letters and digits)."""
    if isinstance(node, Term):
        ws = [w.lower() for w in node.words]
        if not all(_PLAIN_WORD.fullmatch(w) for w in ws):
            return None
        return {(ws[0], node.prefix and len(ws) == 1)}
    if isinstance(node, Not):
        return None
    subs = [required_words(n) for n in node.nodes]
    if isinstance(node, And):
        known = [s for s in subs if s is not None]
        return min(known, key=len) if known else None
    if any(s is None for s in subs):
        return None
    return set().union(*subs)


def to_gdelt(node) -> str | None:
    """The query in GDELT DOC 2.0 syntax, or None where GDELT cannot express it.

    GDELT ANDs words separated by spaces, ORs only inside parentheses, negates with '-', and
    quotes phrases; an AND inside an OR (or a negated group) has no GDELT form.
    """
    def term(t: Term) -> str:
        text = " ".join(t.words)
        return f'"{text}"' if len(t.words) > 1 else text

    def or_part(n) -> str | None:
        return term(n) if isinstance(n, Term) and not n.prefix else None

    def and_part(n) -> str | None:
        if isinstance(n, Term):
            return None if n.prefix else term(n)
        if isinstance(n, Not):
            inner = n.node
            return ("-" + term(inner)) if isinstance(inner, Term) and not inner.prefix else None
        if isinstance(n, Or):
            parts = [or_part(m) for m in n.nodes]
            return None if None in parts else "(" + " OR ".join(parts) + ")"
        if isinstance(n, And):
            parts = [and_part(m) for m in n.nodes]
            return None if None in parts else " ".join(parts)
        return None

    return and_part(node)
