"""The bundled sample world (data/sample/x_world.json), replayed phase by phase."""

from __future__ import annotations

import copy
import json
from importlib import resources
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from tracker.core.errors import TrackerError
from tracker.core.timeutil import parse_iso
from tracker.testing.xapi import XWorld


def sample_dir() -> Path:
    """The bundled sample: data/sample of the checkout, installed as package ``tracker_sample``."""
    try:
        d = Path(str(resources.files("tracker_sample")))
    except ModuleNotFoundError:
        d = Path(__file__).resolve().parents[2] / "data" / "sample"
    if not (d / "x_world.json").is_file():
        raise TrackerError(f"the bundled sample is missing ({d / 'x_world.json'}): reinstall "
                           "the tracker")
    return d


@dataclass
class Phase:
    index: int
    name: str
    at: datetime


class SampleWorld:
    """Applies the sample's phases to an XWorld: posts appear, polls move, edits and deletions."""

    def __init__(self, spec: dict, token: str | None = None):
        self.spec = spec
        self.world = XWorld(token=token)
        self.phase = -1
        for u in spec["users"]:
            self.world.add_user(u)
        self.phases = [Phase(i, p["name"], parse_iso(p["at"]))
                       for i, p in enumerate(spec["phases"])]
        self._edits = {e["new"]: e["of"] for e in spec.get("edits", [])}

    @classmethod
    def load(cls, path: Path | None = None, token: str | None = None) -> "SampleWorld":
        path = path or sample_dir() / "x_world.json"
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), token=token)

    def advance(self, phase: int) -> Phase:
        """Bring the world up to the given phase (phases only move forward)."""
        for p in range(self.phase + 1, phase + 1):
            for poll in self.spec["polls"]:
                state = poll["by_phase"].get(str(p))
                if state is None:
                    continue
                if poll["id"] not in self.world.polls:
                    self.world.add_poll({
                        "id": poll["id"], "duration_minutes": poll["duration_minutes"],
                        "end_datetime": poll["end_datetime"],
                        "voting_status": state["voting_status"],
                        "options": [{"position": i + 1, "label": label, "votes": 0}
                                    for i, label in enumerate(poll["options"])]})
                self.world.set_poll(poll["id"], state["votes"], state["voting_status"])
            for tw in self.spec["tweets"]:
                if tw["_phase"] != p:
                    continue
                tweet = {k: copy.deepcopy(v) for k, v in tw.items() if not k.startswith("_")}
                if tweet["id"] in self._edits:
                    self.world.edit(self._edits[tweet["id"]], tweet)
                else:
                    self.world.add_tweet(tweet)
            for d in self.spec.get("deletions", []):
                if d["_phase"] == p:
                    self.world.delete(d["id"])
        self.phase = phase
        return self.phases[phase]


class CrossPostSample:
    """The sample's posts on Mastodon and Bluesky (data/sample/cross_posts.json), in local
    stand-ins of both APIs whose clock is ``clock`` (the demo's simulated time); each post
    appears at its phase, like the X sample's."""

    def __init__(self, spec: dict, clock: Callable[[], datetime]):
        from tracker.testing.bluesky import BskyWorld
        from tracker.testing.mastodon import MastodonWorld

        self.spec = spec
        self.phase = -1
        self.mastodon = MastodonWorld(clock=clock)
        self.bluesky = BskyWorld(clock=lambda: clock().timestamp())
        m = spec["mastodon"]
        self.instance_name = m["instance"]
        inst = self.mastodon.instance(self.instance_name)
        self._mastodon_accounts = {
            a["username"]: inst.account(a["username"], name=a["display_name"],
                                        at=parse_iso(a["created_at"]))
            for a in m["accounts"]}
        for a in spec["bluesky"]["accounts"]:
            self.bluesky.add_actor(a["handle"], displayName=a["display_name"],
                                   createdAt=a["created_at"])

    @classmethod
    def load(cls, clock: Callable[[], datetime], path: Path | None = None) -> "CrossPostSample":
        path = path or sample_dir() / "cross_posts.json"
        return cls(json.loads(Path(path).read_text(encoding="utf-8")), clock)

    @property
    def mastodon_handles(self) -> list[str]:
        return [f"{u}@{self.instance_name}" for u in self._mastodon_accounts]

    @property
    def bluesky_handles(self) -> list[str]:
        return [a["handle"] for a in self.spec["bluesky"]["accounts"]]

    def advance(self, phase: int) -> None:
        """Publish the posts of every phase up to ``phase`` (phases only move forward)."""
        inst = self.mastodon.instance(self.instance_name)
        for p in range(self.phase + 1, phase + 1):
            for s in self.spec["mastodon"]["statuses"]:
                if s["phase"] == p:
                    inst.post(self._mastodon_accounts[s["account"]], s["text"],
                              parse_iso(s["created_at"]))
            for s in self.spec["bluesky"]["posts"]:
                if s["phase"] == p:
                    self.bluesky.post(s["actor"], s["text"], parse_iso(s["created_at"]))
        self.phase = max(self.phase, phase)
