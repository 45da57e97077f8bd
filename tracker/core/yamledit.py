"""Adding an item to a YAML file's top-level list without touching anything else in it.

`tracker story new` adds a story to config.yaml, a file people edit by hand: its comments,
blank lines, quoting, key order and column alignment must all survive. A YAML library that
round-trips (ruamel.yaml) keeps comments but re-indents and re-aligns what it dumps; so the
file is *parsed* with ruamel.yaml, only to learn where the list is (its key, its items, the
column of their dashes), and the new item's text is inserted there. Every other byte of the
file stays as it was; the caller checks the result parses to the old document plus the item.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from tracker.core.errors import ConfigError

_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./@-]*$")
_SPECIAL = re.compile(r"^(?:true|false|yes|no|on|off|null|~|y|n|[-+.\d][\d._:eE+-]*|\.inf|\.nan)$",
                      re.IGNORECASE)


def scalar(v: Any) -> str:
    """One value as YAML text: plain when unambiguous, else quoted."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    s = str(v)
    if _PLAIN.match(s) and not _SPECIAL.match(s):
        return s
    if any(ord(c) < 32 or c in "\u2028\u2029\x7f" for c in s):
        return json.dumps(s, ensure_ascii=False)      # a JSON string is a YAML double-quoted one
    return "'" + s.replace("'", "''") + "'"


def flow(m: dict) -> str:
    """A flat mapping on one line: {a: 1, b: two}."""
    return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in m.items()) + "}"


def block_item(m: dict, dash_col: int, comment: str | None = None) -> str:
    """A mapping as one block-list item whose dash is at ``dash_col``: scalars as `key: value`,
    flat mappings in flow style, lists of flat mappings as a nested block list of flow
    mappings (the style of the example config.yaml)."""
    pad, inner = " " * dash_col, " " * (dash_col + 2)
    lines = [f"{pad}# {comment}"] if comment else []
    for i, (k, v) in enumerate(m.items()):
        lead = f"{pad}- " if i == 0 else inner
        if isinstance(v, dict):
            lines.append(f"{lead}{k}: {flow(v)}")
        elif isinstance(v, list):
            lines.append(f"{lead}{k}:")
            lines += [f"{inner}  - {flow(x) if isinstance(x, dict) else scalar(x)}" for x in v]
        else:
            lines.append(f"{lead}{k}: {scalar(v)}")
    return "\n".join(lines) + "\n"


def append_to_list(text: str, key: str, item: dict, comment: str | None = None) -> str:
    """``text`` with ``item`` added at the end of the top-level list ``key`` (made when absent
    or empty), every other line unchanged. ConfigError when the file is no mapping or ``key``
    holds something else than a block list."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError("the top level is not a mapping of sections")
    nl = "\r\n" if "\r\n" in text else "\n"         # the file's own line ends
    if not text.endswith("\n") and text:
        text += nl
    lines = re.findall(r"[^\n]*\n", text)     # lines as the parser counts them: at '\n' only

    def new(dash: int) -> str:
        return block_item(item, dash, comment).replace("\n", nl)

    if key not in doc:
        sep = "" if not lines or lines[-1].strip() == "" else nl
        return text + f"{sep}{key}:{nl}" + new(2)
    key_line, key_col = doc.lc.key(key)
    value = doc[key]
    if value is None:                                   # `key:` with nothing after it
        at, dash = key_line + 1, key_col + 2
    elif isinstance(value, list) and _flow(lines, *doc.lc.value(key)):
        if len(value):
            raise ConfigError(f"{key}: is written as a [...] list; add the item by hand")
        vline, vcol = doc.lc.value(key)                 # `key: []`: drop the brackets
        line = lines[vline]
        m = re.compile(r"\[\s*\]").match(line, vcol)
        if m is None:
            raise ConfigError(f"{key}: could not find its empty list on line {vline + 1}")
        lines[vline] = line[:m.start()].rstrip() + line[m.end():]
        if not lines[vline].endswith("\n"):
            lines[vline] += nl
        at, dash = vline + 1, key_col + 2
    elif isinstance(value, list) and len(value):
        dash = value.lc.col
        last = value.lc.item(len(value) - 1)[0]
        at = last + 1
        for i in range(last + 1, len(lines)):
            s = lines[i]
            if s.strip() == "":
                continue
            if len(s) - len(s.lstrip(" ")) <= dash:
                break                                   # the next key, or a comment before it
            at = i + 1
    else:
        raise ConfigError(f"{key}: is not a list")
    return "".join(lines[:at]) + new(dash) + "".join(lines[at:])


def _flow(lines: list[str], line: int, col: int) -> bool:
    """Is the value at (line, col) a [...] list? (What the text says: ruamel.yaml's flow-style
    flag is unset on an empty list in some versions.)"""
    return line < len(lines) and lines[line][col:col + 1] == "["
