"""What changed between two versions of a text, with Google's diff-match-patch.

Texts are compared sentence by sentence (each sentence a "line" of diff-match-patch's line
mode), so an edit reads as whole sentences removed and added; ``unified`` renders that for a
terminal. Sentences end at ., !, ? (followed by a space) or a line break.
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")


def sentences(text: str | None) -> list[str]:
    """The text's sentences, whitespace tidied, in order."""
    out = []
    for part in _SENTENCE_END.split(text or ""):
        part = re.sub(r"\s+", " ", part or "").strip()
        if part:
            out.append(part)
    return out


def sentence_diff(old: str | None, new: str | None) -> list[tuple[int, str]]:
    """[(op, sentence)] from ``old`` to ``new``: op -1 removed, 0 kept, 1 added."""
    from diff_match_patch import diff_match_patch

    dmp = diff_match_patch()
    a = "".join(s + "\n" for s in sentences(old))
    b = "".join(s + "\n" for s in sentences(new))
    chars_a, chars_b, lines = dmp.diff_linesToChars(a, b)
    diffs = dmp.diff_main(chars_a, chars_b, False)
    dmp.diff_charsToLines(diffs, lines)
    out: list[tuple[int, str]] = []
    for op, chunk in diffs:
        out += [(op, s) for s in chunk.split("\n") if s]
    return out


def added_sentences(old: str | None, new: str | None) -> list[str]:
    """The sentences ``new`` has that ``old`` did not have there."""
    return [s for op, s in sentence_diff(old, new) if op == 1]


def unified(old: str | None, new: str | None, context: int = 1) -> list[str]:
    """The change as lines: '- ' removed, '+ ' added, '  ' kept (``context`` around each
    change; '  …' for what is left out)."""
    diff = sentence_diff(old, new)
    keep = {i for i, (op, _) in enumerate(diff) if op != 0}
    near = {j for i in keep for j in range(i - context, i + context + 1)}
    out, skipped = [], False
    for i, (op, s) in enumerate(diff):
        if i not in near:
            if not skipped:
                out.append("  …")
            skipped = True
            continue
        skipped = False
        out.append({-1: "- ", 0: "  ", 1: "+ "}[op] + s)
    return out
