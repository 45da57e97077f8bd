"""The one mapping from what a mark means to how it looks, used by the chart's marks, its legends
and the tables' swatches alike (so a legend can never name the wrong colour).

Colours are the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies);
press events are squares, posts are circles, so shape tells the two apart as well.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    label: str      # the legend's and the tables' name for it
    color: str      # lower-case #rrggbb
    symbol: str     # a Plotly marker symbol


# Event types in legend order (the labelling rules' EVENT_TYPES, tracker/analysis/rules.py).
EVENT_STYLES: dict[str, Style] = {
    "claim": Style("claim", "#d55e00", "circle"),
    "denial": Style("denial", "#0072b2", "circle"),
    "rebuttal": Style("rebuttal", "#cc79a7", "circle"),
    "poll": Style("poll", "#009e73", "diamond"),
    "coverage_of_claim": Style("press: reports the claim", "#e69f00", "square"),
    "coverage_of_denial": Style("press: reports the denial", "#56b4e9", "square"),
    "coverage_of_rebuttal": Style("press: reports the rebuttal", "#f0e442", "square"),
    # an edit of an article already out: the claim report updated with the denial, …
    "article_updated_with_denial": Style("press: claim report updated with the denial",
                                         "#88ccee", "square"),
    "article_updated_with_rebuttal": Style("press: report updated with the rebuttal",
                                           "#ddcc77", "square"),
    "article_headline_changed": Style("press: headline changed", "#cc6677", "square"),
    "mention": Style("mention", "#000000", "triangle-up"),
    "reply": Style("reply", "#999999", "circle"),
}
UNKNOWN_EVENT = Style("other label", "#7f7f7f", "x")

# Replies' stance toward the post they answer (stacked bars), in stacking order.
STANCE_STYLES: dict[str, Style] = {
    "support": Style("support", "#1b9e77", "square"),
    "deny": Style("deny", "#7570b3", "square"),
    "query": Style("query", "#e7298a", "square"),
    "comment": Style("comment", "#bdbdbd", "square"),
}

# Poll options, by position (option 1, 2, …); cycles past the end.
OPTION_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")


def event_style(event_type: str) -> Style:
    return EVENT_STYLES.get(event_type, UNKNOWN_EVENT)


def option_color(position: int) -> str:
    """Colour of a poll option from its 1-based position."""
    return OPTION_COLORS[(max(position, 1) - 1) % len(OPTION_COLORS)]
