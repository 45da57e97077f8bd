"""Story actors in config.yaml: a person with identities on several platforms, or the single
identity form; every error names its path."""

from __future__ import annotations

import pytest

from tracker.config import parse_config
from tracker.core.errors import ConfigError

WINDOW = {"start": "2022-10-01", "end": "2022-10-31"}


def story(*actors) -> dict:
    return {"stories": [{"id": "s", "title": "t", "query": "Putin", "window": WINDOW,
                         "actors": list(actors)}]}


def actors(*actors):
    return parse_config(story(*actors)).stories[0].actors


def test_a_person_on_three_platforms_with_each_handle_checked_by_its_platform():
    (a,) = actors({"name": "  Elon   Musk ", "role": "subject", "identities": [
        {"platform": "x", "handle": "@elonmusk"},
        {"platform": "mastodon", "handle": "@elonmusk@Mastodon.Social"},
        {"platform": "bluesky", "handle": "@Elon.bsky.social"}]})
    assert (a.person, a.role) == ("Elon Musk", "subject")
    assert [(i.platform, i.handle) for i in a.accounts] == [
        ("x", "elonmusk"), ("mastodon", "elonmusk@mastodon.social"),
        ("bluesky", "elon.bsky.social")]


def test_the_single_identity_form_still_works_with_or_without_a_name():
    plain, named, default_platform = actors(
        {"platform": "x", "handle": "@ianbremmer", "role": "claimant"},
        {"name": "Elon Musk", "platform": "bluesky", "handle": "elon.bsky.social",
         "role": "subject"},
        {"handle": "someone"})
    assert (plain.person, plain.role, [(i.platform, i.handle) for i in plain.accounts]) == (
        "ianbremmer", "claimant", [("x", "ianbremmer")])
    assert (named.person, [(i.platform, i.handle) for i in named.accounts]) == (
        "Elon Musk", [("bluesky", "elon.bsky.social")])
    # no platform: the first registered platform's, as for accounts
    assert ([(i.platform, i.handle) for i in default_platform.accounts], default_platform.role
            ) == ([("x", "someone")], "other")


P = "stories[0].actors"


@pytest.mark.parametrize("actor_list, message", [
    ([{"name": "E", "identities": [{"platform": "x", "handle": "e"},
                                   {"platform": "mastodon", "handle": "elon"}]}],
     f"{P}[0].identities[1].handle: 'elon' is not a Mastodon handle: user@instance"),
    ([{"name": "E", "identities": [{"platform": "bluesky", "handle": "did:plc:abc"}]}],
     f"{P}[0].identities[0].handle: 'did:plc:abc' is a DID"),
    ([{"name": "E", "identities": [{"platform": "myspace", "handle": "e"}]}],
     f"{P}[0].identities[0].platform: unknown platform 'myspace'"),
    ([{"name": "E", "identities": [{"platform": "x", "handle": "e", "role": "subject"}]}],
     f"{P}[0].identities[0].role: unknown key"),
    ([{"name": "E", "identities": [{"platform": "x", "handle": ""}]}],
     f"{P}[0].identities[0].handle: must not be empty"),
    ([{"name": "E", "platform": "x", "handle": "e",
       "identities": [{"platform": "x", "handle": "f"}]}],
     f"{P}[0]: give either identities or platform and handle, not both"),
    ([{"name": "E", "role": "subject"}],
     f"{P}[0]: give a handle (with its platform), or identities"),
    ([{"name": " ", "platform": "x", "handle": "e"}], f"{P}[0].name: must not be empty"),
    ([{"name": "E", "identities": [{"platform": "x", "handle": "e"},
                                   {"platform": "x", "handle": "@E"}]}],
     f"{P}[0].identities[1]: x handle 'E' is already an identity of this actor"),
    ([{"name": "E", "identities": [{"platform": "x", "handle": "e"}]},
      {"platform": "x", "handle": "e", "role": "claimant"}],
     f"{P}[1]: x handle 'e' is already listed at {P}[0].identities[0]"),
    ([{"name": "Elon", "identities": [{"platform": "x", "handle": "e"}]},
      {"name": "elon", "platform": "x", "handle": "f"}],
     f"{P}[1]: 'elon' is already the actor {P}[0]"),
    ([{"name": "E", "role": "witness", "identities": [{"platform": "x", "handle": "e"}]}],
     f"{P}[0].role: Input should be 'claimant', 'subject' or 'other'"),
])
def test_actor_errors_name_the_path(actor_list, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(story(*actor_list))
    assert message in str(exc.value)
