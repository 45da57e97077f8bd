"""`tracker story new --from-denial POST`: a story stanza in config.yaml, made from a denial.

The stanza (tracker.analysis.denials.story_stanza: the two accounts as claimant and subject, a
query of the two posts' salient words and a party's name, a window around them) is added at
the end of `stories:` with every other byte of the file kept (tracker.core.yamledit), checked
by the same validation as any configuration (tracker.config), and written atomically: a
temporary file beside config.yaml, then a rename. An existing story id is never replaced.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tracker.analysis.denials import Denial, candidate, story_stanza
from tracker.config import load_config
from tracker.core.config import read_yaml
from tracker.core.errors import ConfigError, TrackerError
from tracker.core.yamledit import append_to_list, block_item
from tracker.store.db import read_connection


@dataclass
class NewStory:
    story_id: str
    path: Path            # the config file written
    stanza: dict
    text: str             # the stanza as written
    denial: Denial


def new_story_from_denial(cfg, post: str, story_id: str | None = None) -> NewStory:
    """Add a story built from the denial ``post`` (an id or PLATFORM:ID of a tracked account's
    post that replies to, quotes or mentions another account) to the config file ``cfg`` was
    read from. TrackerError when the story id is taken or the result would not validate."""
    path = getattr(cfg, "source_path", None)
    if path is None:
        raise TrackerError("this configuration was not read from a file: nothing to add to")
    path = Path(path)
    con = read_connection(cfg)
    try:
        denial = candidate(con, cfg.accounts, post)
    finally:
        con.close()
    stanza = story_stanza(denial, story_id)
    sid = stanza["id"]
    if any(s.id == sid for s in cfg.stories):
        raise TrackerError(f"story {sid!r} is already in {path}: not replaced (give another "
                           "--id)")
    comment = (f"from the denial {denial.key} by @{denial.account} "
               f"(tracker story new --from-denial): refine the title, query and window")
    before = path.read_text(encoding="utf-8")
    try:
        after = append_to_list(before, "stories", stanza, comment)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    _write_checked(path, before, after, stanza)
    return NewStory(sid, path, stanza, block_item(stanza, 2, comment), denial)


def _write_checked(path: Path, before: str, after: str, stanza: dict) -> None:
    """Write ``after`` over ``path`` only if it validates as a configuration and reads as the
    old document plus the new story; atomically (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(after)
            f.flush()
            os.fsync(f.fileno())
        try:
            shutil.copymode(path, tmp)
        except OSError:
            pass
        old = read_yaml(path) or {}
        if any(isinstance(s, dict) and s.get("id") == stanza["id"]
               for s in old.get("stories") or []):
            raise TrackerError(f"story {stanza['id']!r} is already in {path}: not replaced "
                               "(give another --id)")
        try:
            cfg = load_config(tmp)                   # every check a configuration gets
        except ConfigError as exc:
            msg = str(exc).replace(str(tmp), str(path))
            raise ConfigError(f"the new story does not validate, nothing written: {msg}") \
                from None
        new = read_yaml(tmp)
        want = dict(old)
        want["stories"] = list(old.get("stories") or []) + [_plain(stanza)]
        if _plain(new) != _plain(want) or cfg.stories[-1].id != stanza["id"]:
            raise TrackerError(f"{path}: adding the story would change more than the stories "
                               "list; nothing written (add the stanza by hand)")
        if path.read_text(encoding="utf-8") != before:
            raise TrackerError(f"{path} changed while the story was added; nothing written "
                               "(run the command again)")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _plain(v):
    """A parsed document with dates as ISO text (the stanza holds dates, YAML may give either)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v
