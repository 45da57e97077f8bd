"""Mastodon ids, made unique across instances.

A status or account id is local to the instance that answered (the same remote status has
another id on every server that knows it), so the tracker stores ``<instance>:<local id>``:
``mastodon.social:109876543210``. Local ids are opaque strings; Mastodon's are numbers whose
order is their age, and other servers' (ULIDs, flake ids) sort as strings of one length, so
they are ordered by (length, text).
"""

from __future__ import annotations


def qualify(instance: str, local_id) -> str | None:
    """``instance:local_id``, or None when there is no id."""
    if local_id is None or local_id == "" or isinstance(local_id, bool):
        return None
    if not isinstance(local_id, (str, int)):
        raise ValueError(f"not an id: {local_id!r}")
    return f"{instance}:{local_id}"


def split(qualified: str) -> tuple[str, str]:
    """(instance, local id) of a qualified id (an instance may carry a port: host:3000:12)."""
    instance, sep, local = qualified.rpartition(":")
    if not sep or not instance or not local:
        raise ValueError(f"{qualified!r} is not an instance-qualified Mastodon id")
    return instance, local


def order_key(local_id) -> tuple[int, str]:
    """How local ids of one instance sort by age: by length, then as text."""
    text = "" if local_id is None else str(local_id)
    return (len(text), text)
