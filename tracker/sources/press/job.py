"""The press jobs: `collect_press` (feeds, then GDELT queries) and `press_add` (press add).

The generic runner runs both: lock, raw archive, the shared loader, the replica and ``runs``. A failing feed or query does not stop the others; the run ends ``failed`` with every
failure and its reason in ``runs.error``. A malformed feed whose entries could still be read
leaves the run ``ok`` with the warning in ``runs.error``. The request cap stops the run
(``stopped``, exit code 4) with the cursors intact.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from tracker.core.errors import ConfigError, RunStopped, SourceError, TrackerError
from tracker.core.storyquery import parse_query, to_gdelt
from tracker.core.timeutil import iso
from tracker.sources.base import Job, ScopeFailures
from tracker.sources.press.config import PressQueryConfig
from tracker.sources.press.feeds import FeedOutcome, collect_feed, scope_of
from tracker.sources.press.gdelt import QueryOutcome, collect_query
from tracker.sources.press.http import PressFetcher
from tracker.sources.press.normalize import PageInfo
from tracker.sources.press.pages import add_page
from tracker.sources.press.refetch import PressPlan, refetch_article
from tracker.sources.press.wayback import WaybackOutcome, look_back

log = logging.getLogger("tracker.press")
SOURCE = "press"


class PressFailed(SourceError):
    """Some feeds, queries or pages failed (the others were collected)."""


@dataclass
class PressReport:
    """What a press run did; copied into ``RunResult.details`` for the CLI."""

    feeds: list[FeedOutcome] = field(default_factory=list)
    queries: list[QueryOutcome] = field(default_factory=list)
    pages: list[PageInfo] = field(default_factory=list)
    articles: dict[str, int] = field(default_factory=dict)   # re-fetch outcome -> count
    wayback: list[WaybackOutcome] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def details(self) -> dict:
        return {"feeds": [asdict(f) for f in self.feeds],
                "articles": dict(self.articles), "wayback": [asdict(w) for w in self.wayback],
                **({"deferred": dict(self.deferred)} if self.deferred else {}),
                "queries": [asdict(q) for q in self.queries],
                "pages": [{**asdict(p), "published_at": iso(p.published_at)
                           if p.published_at else None} for p in self.pages],
                "failures": list(self.failures), "warnings": list(self.warnings)}


def _finish(report: PressReport, result) -> None:
    if report.failures:
        msg = f"{len(report.failures)} failed: " + "; ".join(report.failures)
        if report.warnings:
            msg += "; warnings: " + "; ".join(report.warnings)
        raise PressFailed(msg)
    if report.warnings:
        result.error = "warnings: " + "; ".join(report.warnings)


def _select_feeds(cfg, names: list[str] | None):
    feeds = [f for f in cfg.press.feeds if f.enabled]
    if names:
        known = {f.name.lower(): f for f in cfg.press.feeds}
        unknown = [n for n in names if n.lower() not in known]
        if unknown:
            raise ConfigError(f"press.feeds: no feed named {unknown[0]!r} (known: "
                              f"{', '.join(f.name for f in cfg.press.feeds) or 'none'})")
        feeds = [known[n.lower()] for n in names]
    return feeds


def story_queries(cfg) -> list[PressQueryConfig]:
    """One GDELT query per story whose query GDELT can express (named ``story-<id>``)."""
    names = {q.name for q in cfg.press.queries}
    out = []
    for story in cfg.stories:
        text = to_gdelt(parse_query(story.query))
        name = f"story-{story.id}"
        if text is None:
            log.warning("press: story %s's query has no GDELT form (an AND inside an OR, a "
                        "negated group or a prefix*); add a press.queries entry for it", story.id)
            continue
        if name not in names:
            out.append(PressQueryConfig(name=name, query=text, start=story.window.start,
                                        end=story.window.end))
    return out


def _chosen(cfg, options: dict) -> tuple[list, list]:
    """(feeds, GDELT queries) a collect_press run reads (options: feeds, gdelt)."""
    chosen = _select_feeds(cfg, options.get("feeds"))
    gdelt = options.get("gdelt", True)
    queries = ([*cfg.press.queries, *story_queries(cfg)]
               if (gdelt and cfg.press.gdelt.enabled) else [])
    return chosen, queries


def has_work(cfg) -> bool:
    """Whether the configuration names any feed or (enabled) GDELT query."""
    chosen, queries = _chosen(cfg, {})
    return bool(chosen or queries)


def _collect_precheck(cfg, options: dict) -> None:
    chosen, queries = _chosen(cfg, options)
    if not chosen and not queries:
        raise ConfigError("press: nothing to collect; add press.feeds or press.queries "
                          "(with press.gdelt.enabled: true)")


def collect_press(raw, ctx, result) -> None:
    """Every enabled feed (conditional GET), then every press query on GDELT (options: ``feeds``
    names some feeds only, ``gdelt=False`` leaves GDELT out).

    ``result.details`` holds what happened to each feed and query (see PressReport).
    """
    cfg = ctx.cfg
    report = PressReport()
    chosen, queries = _chosen(cfg, ctx.options)
    f = PressFetcher(cfg.press, raw, sleep=ctx.sleep, clock=ctx.clock)
    failures = ScopeFailures()
    failures.items = report.failures          # one failing feed or query costs only itself
    try:
        for feed in chosen:
            with failures.scope(f"feed {feed.name!r}"):
                out = collect_feed(f, feed, ctx.cursor(SOURCE, scope_of(feed)))
                report.feeds.append(out)
                if out.warning:
                    report.warnings.append(f"feed {feed.name!r}: {out.warning}")
        now = ctx.clock()
        for q in queries:
            with failures.scope(f"GDELT query {q.name!r}"):
                out = collect_query(f, cfg.press.gdelt, q,
                                    ctx.cursor(SOURCE, f"gdelt:{q.name}"),
                                    ctx.cursor(SOURCE, f"gdelt_volume:{q.name}"), now)
                report.queries.append(out)
                for t in out.truncated:
                    report.warnings.append(f"GDELT query {q.name!r}: {t}")
        if ctx.options.get("refetch", not ctx.options.get("feeds")):
            _versions(f, cfg.press, ctx.plan, report, failures)
    except RunStopped as exc:
        if report.failures:
            raise type(exc)(f"{exc}; before that, {len(report.failures)} failed: "
                            + "; ".join(report.failures)) from None
        raise
    finally:
        ctx.absorb(f.stats, result)
        result.details.update(report.details())
    _finish(report, result)


def _versions(f: PressFetcher, press, plan: PressPlan | None, report: PressReport,
              failures: ScopeFailures) -> None:
    """The due re-fetches, then the due Wayback look-ups, within their caps and what is left
    of the run's budget; the rest is deferred to the next run."""
    if plan is None:
        return
    done = 0
    for item in plan.refetch:
        if done >= press.refetch.max_per_run or f.remaining() == 0:
            report.deferred["article_refetches"] = len(plan.refetch) - done
            break
        done += 1
        with failures.scope(f"article {item.url}"):
            what = refetch_article(f, item)
            report.articles[what] = report.articles.get(what, 0) + 1
    looked = 0
    for item in plan.wayback:
        # a look-up is a CDX search and up to max_versions mementos: start one only if it fits
        if (looked >= press.wayback.max_articles_per_run
                or f.remaining() < 1 + press.wayback.max_versions):
            report.deferred["wayback_lookups"] = len(plan.wayback) - looked
            break
        looked += 1
        with failures.scope(f"Wayback {item.url}"):
            report.wayback.append(look_back(f, press.wayback, item))


def _add_precheck(cfg, options: dict) -> None:
    targets = options.get("targets") or []
    if not targets:
        raise ConfigError("press add: give at least one URL or saved HTML file")
    if options.get("url") and len(targets) != 1:
        raise ConfigError("--url names the article of one page; give one URL or FILE with it")


def press_add(raw, ctx, result) -> None:
    """Archive and load single articles: http(s) URLs or saved HTML files (options:
    ``targets``, and ``url`` naming the article of one saved page).

    ``result.details["pages"]`` holds what was extracted from each page.
    """
    report = PressReport()
    f = PressFetcher(ctx.cfg.press, raw, sleep=ctx.sleep, clock=ctx.clock)
    try:
        for target in ctx.options["targets"]:
            try:
                report.pages.append(add_page(f, raw, target, url=ctx.options.get("url"),
                                             clock=ctx.clock))
            except RunStopped:
                raise
            except TrackerError as exc:
                report.failures.append(str(exc))
    finally:
        ctx.absorb(f.stats, result)
        result.details.update(report.details())
    _finish(report, result)


JOBS = (
    Job("collect_press", "press", collect_press, "press feeds and GDELT queries",
        default_cron="11-59/30 * * * *", precheck=_collect_precheck),
    Job("press_add", "press", press_add, "single articles from URLs or saved pages",
        scheduled=False, precheck=_add_precheck),
)
