"""Analysts' labels as a source: recorded in the raw archive (source 'analyst') and loaded like
any page, so `tracker rebuild` restores them and every change is audited.
"""

from __future__ import annotations

from tracker.core.errors import MalformedPage
from tracker.core.jsonload import loads
from tracker.store.rows import Rows
from tracker.core.events import EVENT_TYPES


def label_record(story_id: str, item_kind: str, platform: str, item_id: str, action: str,
                 event_type: str | None, note: str | None, analyst: str) -> dict:
    """The body of the raw page that records one analyst decision."""
    return {"story_id": story_id, "item_kind": item_kind, "platform": platform,
            "item_id": item_id, "action": action, "event_type": event_type, "note": note,
            "analyst": analyst}


def normalize(record: dict) -> Rows:
    """Pure: one 'analyst' raw page → one analyst_labels row."""
    rows = Rows()
    try:
        body = loads(record.get("body") or "")
    except ValueError as exc:
        raise MalformedPage(f"invalid analyst label: {exc}") from None
    if not isinstance(body, dict) or body.get("action") not in ("set", "unset"):
        raise MalformedPage("analyst label needs action 'set' or 'unset'")
    if body["action"] == "set" and body.get("event_type") not in EVENT_TYPES:
        raise MalformedPage(f"unknown event type {body.get('event_type')!r}")
    for key in ("story_id", "item_kind", "item_id"):
        if not body.get(key):
            raise MalformedPage(f"analyst label without {key}")
    rows.items = 1
    rows.add("analyst_labels", {
        "label_id": f"{record.get('run_id')}:{record.get('seq')}",
        "story_id": str(body["story_id"]), "item_kind": str(body["item_kind"]),
        "item_id": str(body["item_id"]), "action": body["action"],
        "event_type": body.get("event_type"), "note": body.get("note"),
        "analyst": body.get("analyst"), "labeled_at": record.get("fetched_at"),
        # labels recorded before items had a platform: the post with that id, any platform
        "platform": (str(body["platform"]) if body.get("platform")
                     else "web" if body["item_kind"] == "article" else None),
    })
    return rows
