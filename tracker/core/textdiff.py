"""What changed between two versions of a text, with Google's diff-match-patch.

Texts are compared paragraph by paragraph (each a "line" of diff-match-patch's line mode); a
paragraph that was edited rather than added or removed is compared again sentence by sentence
(pysbd finds the sentences, abbreviations such as "Mr." or "Oct." included), so an edit reads as
whole paragraphs or sentences removed and added. ``unified`` renders that for a terminal.
"""

from __future__ import annotations

import re
from functools import lru_cache


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def paragraphs(text: str | None) -> list[str]:
    return [p for p in (_tidy(x) for x in (text or "").split("\n")) if p]


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def sentences(text: str | None) -> list[str]:
    """The text's sentences, whitespace tidied, in order."""
    out: list[str] = []
    for para in paragraphs(text):
        out += [s for s in (_tidy(x) for x in _segmenter().segment(para)) if s]
    return out


def _diff(a: list[str], b: list[str]) -> list[tuple[int, str]]:
    from diff_match_patch import diff_match_patch

    dmp = diff_match_patch()
    chars_a, chars_b, lines = dmp.diff_linesToChars("".join(x + "\n" for x in a),
                                                    "".join(x + "\n" for x in b))
    diffs = dmp.diff_main(chars_a, chars_b, False)
    dmp.diff_charsToLines(diffs, lines)
    return [(op, x) for op, chunk in diffs for x in chunk.split("\n") if x]


def similarity(a: str, b: str) -> float:
    """1 for equal texts, 0 for nothing in common (diff-match-patch's Levenshtein)."""
    from diff_match_patch import diff_match_patch

    dmp = diff_match_patch()
    longest = max(len(a), len(b)) or 1
    return 1 - dmp.diff_levenshtein(dmp.diff_main(a, b, False)) / longest


def _pairs(removed: list[str], added: list[str], least: float = 0.5) -> dict[int, int]:
    """removed index -> added index of the paragraphs that are edits of each other, in order."""
    out: dict[int, int] = {}
    start = 0
    for i, r in enumerate(removed):
        best = max(((similarity(r, added[j]), j) for j in range(start, len(added))),
                   default=(0.0, -1))
        if best[0] >= least:
            out[i] = best[1]
            start = best[1] + 1
    return out


def changes(old: str | None, new: str | None) -> list[tuple[int, str]]:
    """[(op, passage)] from ``old`` to ``new``: op -1 removed, 0 kept, 1 added; a passage is a
    paragraph, or a sentence of a paragraph that was edited."""
    out: list[tuple[int, str]] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        pairs = _pairs(removed, added)          # edited paragraphs: removed i ~ added j
        by_added = {j: i for i, j in pairs.items()}
        done = set()
        for j, a in enumerate(added):
            if j in by_added:
                i = by_added[j]
                out.extend((-1, r) for k, r in enumerate(removed) if k < i and k not in done)
                done.update(k for k in range(i + 1))
                out.extend(_diff(sentences(removed[i]), sentences(a)))
            else:
                out.append((1, a))
        out.extend((-1, r) for k, r in enumerate(removed) if k not in done)
        removed.clear()
        added.clear()

    for op, para in _diff(paragraphs(old), paragraphs(new)):
        if op == 0:
            flush()
            out.append((0, para))
        else:
            (removed if op == -1 else added).append(para)
    flush()
    return out


def added_passages(old: str | None, new: str | None) -> list[str]:
    """What ``new`` says that ``old`` did not: new paragraphs whole, new sentences of edited
    ones."""
    return [x for op, x in changes(old, new) if op == 1]


def unified(old: str | None, new: str | None, context: int = 1) -> list[str]:
    """The change as lines: '- ' removed, '+ ' added, '  ' kept (``context`` around each
    change; '  …' for what is left out)."""
    diff = changes(old, new)
    near = {j for i, (op, _) in enumerate(diff) if op != 0
            for j in range(i - context, i + context + 1)}
    out, skipped = [], False
    for i, (op, x) in enumerate(diff):
        if i not in near:
            if not skipped:
                out.append("  …")
            skipped = True
            continue
        skipped = False
        out.append({-1: "- ", 0: "  ", 1: "+ "}[op] + x)
    return out
