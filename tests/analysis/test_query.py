"""Story query language: parsing, errors with positions, word-aware matching in DuckDB."""

from __future__ import annotations

import duckdb
import pytest

from tracker.core.storyquery import (QuerySyntaxError, lookup_words, parse_query,
                                     required_words, terms, to_sql)

QUERY = '(Putin OR Kremlin) AND (Musk OR "Elon")'


def matches(query: str, text: str) -> bool:
    sql, params = to_sql(parse_query(query), "t")
    con = duckdb.connect()          # its own connection: never leave a result on the default one
    try:
        return con.execute(f"SELECT {sql} FROM (SELECT ?::VARCHAR AS t)", params + [text]
                           ).fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.parametrize("text, expected", [
    ("Elon Musk spoke with Putin", True),
    ("ELON and the KREMLIN", True),
    ("Elongated Putinesque musketeers", False),      # word-aware
    ("Musk, Putin.", True),                           # punctuation is a boundary
    ("Kremlin says nothing", False),
    ("", False),
])
def test_story_query(text, expected):
    assert matches(QUERY, text) is expected


def test_not_phrase_and_prefix():
    assert matches('"red lines" NOT Musk', "the Kremlin's red   lines")
    assert not matches('"red lines" NOT Musk', "red lines, says Musk")
    assert matches("deni*", "Musk denies it")
    assert not matches("deni*", "the undeniable")
    assert matches("путин", "Путин сказал")            # any script, case-insensitive
    assert matches("a b", "b then a")                  # implicit AND


def test_terms_skip_negated():
    assert [str(t) for t in terms(parse_query('a OR "b c" NOT d'))] == ["a", '"b c"']


def test_regex_characters_are_literal_and_travel_as_parameters():
    sql, params = to_sql(parse_query('c++ OR "x'' ; DROP TABLE posts; --"'), "t")
    assert "DROP" not in sql and "c++" not in sql
    assert matches("c++", "I like c++ a lot")
    assert not matches("c++", "I like c a lot")


@pytest.mark.parametrize("query, message", [
    ("(Putin", "missing ')' at position 6"),
    ("Putin AND", "query ends too early at position 9"),
    ('"Putin', "unclosed quote at position 0"),
    ("OR Putin", "unexpected 'OR' at position 0"),
    ("Putin )", "unexpected ')' at position 6"),
    ("  ", "empty query at position 0"),
    ("*", "'*' needs a word before it at position 0"),
])
def test_syntax_errors_name_the_position(query, message):
    with pytest.raises(QuerySyntaxError) as exc:
        parse_query(query)
    assert str(exc.value) == message


def test_config_error_names_story_and_position():
    from tracker.config import parse_config
    from tracker.core.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        parse_config({"stories": [{"id": "s1", "title": "t", "query": "(Putin OR",
                                   "window": {"start": "2022-10-01", "end": "2022-10-31"}}]})
    assert "stories[0]: query of story 's1' does not parse: query ends too early at position 9" \
        in str(exc.value)


@pytest.mark.parametrize("query, gdelt", [
    ('(Putin OR Kremlin) AND (Musk OR "Elon")', '(Putin OR Kremlin) (Musk OR Elon)'),
    ('"red lines" NOT Musk', '"red lines" -Musk'),
    ("Putin", "Putin"),
    ("(a AND b) OR c", None),            # GDELT has no AND inside OR
    ("NOT (a OR b)", None),
    ("deni*", None),
])
def test_gdelt_form_of_a_story_query(query, gdelt):
    from tracker.core.storyquery import to_gdelt

    assert to_gdelt(parse_query(query)) == gdelt


@pytest.mark.parametrize("query,required", [
    ("putin", {("putin", False)}),
    ("elon*", {("elon", True)}),
    ('"space x" OR starlink', {("space", False), ("starlink", False)}),
    ("(putin OR kremlin) AND NOT \"the a\"", {("putin", False), ("kremlin", False)}),
    ("musk AND (putin OR kremlin OR call)", {("musk", False)}),
    ("NOT putin", None),
    ("putin OR NOT kremlin", None),
    ("Путин", None),                       # not plain letters: the pattern decides
])
def test_required_words(query, required):
    assert required_words(parse_query(query)) == required


def test_a_text_without_a_required_word_never_matches():
    """The matching's shortcut: over many random texts, every text the full query matches
    holds one of the query's required words."""
    import random

    rng = random.Random(5)
    words = "putin kremlin musk elon elongated call the a space x starlink".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))) for _ in range(150)]
    con = duckdb.connect()
    for q in ["(putin OR kremlin) AND NOT \"the a\"", "elon* AND call", '"space x" OR musk',
              "musk AND (putin OR kremlin OR call)"]:
        sql, params = to_sql(parse_query(q), "t")
        req = required_words(parse_query(q))
        for text in texts:
            hit = con.execute(f"SELECT {sql} FROM (SELECT ? AS t)", [*params, text]).fetchone()[0]
            toks = text.lower().split()
            has = any((t.startswith(w) if prefix else t == w) for w, prefix in req for t in toks)
            assert not hit or has, (q, text)


@pytest.mark.parametrize("query, words", [
    ('(Putin OR Kremlin) AND NOT "the A"', {"putin", "kremlin"}),   # a phrase: its pattern
    ("elon* AND NOT musk", {"elon", "musk"}),
    ("Путин OR putin", {"putin"}),          # not plain letters: its pattern reads the text
])
def test_lookup_words(query, words):
    assert lookup_words(parse_query(query)) == words


def test_the_words_a_query_looks_up_match_as_every_word_does():
    """The matching reads of each text only the words holding one the queries look up
    (words_holding_sql), and tries phrases by their pattern; over random texts with punctuation, case, prefixes and words inside
    words, every query matches the same texts and reports the same terms as over every word."""
    import random

    from tracker.core.storyquery import WORDS_SQL, to_words_sql, words_holding_sql

    rng = random.Random(7)
    vocab = ("putin Putin PUTINS kremlin Kremlin_x musk musky elon elongated call the a "
             "space x starlink Путин 42 a_b xputin demusk reelongated").split()
    seps = [" ", ", ", "! ", "—", "\n", "'", "-"]
    texts = ["".join(rng.choice(vocab) + rng.choice(seps) for _ in range(rng.randint(1, 7)))
             for _ in range(300)] + ["", "!!!"]
    queries = ['(putin OR kremlin) AND NOT "the a"', "elon* AND call", '"space x" OR musk',
               "musk AND (putin OR kremlin OR call)", "NOT putin", "put* OR x", "Путин OR 42",
               "a_b AND NOT elon*"]
    nodes = [parse_query(q) for q in queries]
    looked = set().union(*(lookup_words(n) for n in nodes))
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS txt", [texts])
    con.execute(f"CREATE TABLE w AS SELECT txt, {WORDS_SQL.format(text='txt')} AS every_word, "
                f"{words_holding_sql(looked, 'txt')} AS looked_up FROM t")
    for q, node in zip(queries, nodes):
        parts = [node, *terms(node)]
        for part in parts:
            full, p1 = to_words_sql(part, "every_word", "txt")
            few, p2 = to_words_sql(part, "looked_up", "txt", phrases_by_pattern=True)
            got = con.execute(f"SELECT count(*), count(*) FILTER (WHERE coalesce({full}, false) "
                              f"<> coalesce({few}, false)) FROM w", [*p1, *p2]).fetchone()
            assert got == (len(texts), 0), (q, str(part))
    assert con.execute("SELECT count(*) FROM w WHERE len(looked_up) > 0").fetchone()[0] > 100
