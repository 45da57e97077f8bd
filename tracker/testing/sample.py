"""The bundled sample world (data/sample/x_world.json), replayed phase by phase."""

from __future__ import annotations

import copy
import json
from importlib import resources
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
