"""`tracker cost`: what a month of the configured collection costs, source by source.

Each source with a cost model (Source.cost) projects its own jobs from the schedule's runs,
the rates measured in the database and its prices; this adds them up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tracker.core.cron import parse_cron
from tracker.sources.cost import DAYS, JobCost, runs_per_month
from tracker.sources.registry import REGISTRY


@dataclass
class CostProjection:
    accounts: int
    days: int
    jobs: list[JobCost]
    rates: dict[str, float]
    rate_sources: dict[str, str]
    schedule_source: str
    pricing: dict
    base_usd: float
    warnings: list[str] = field(default_factory=list)
    rate_help: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return self.base_usd + sum(j.usd for j in self.jobs)

    @property
    def requests(self) -> float:
        return sum(j.requests for j in self.jobs)

    @property
    def billed_post_reads(self) -> float:
        return sum(j.billed_post_reads for j in self.jobs)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(total_usd=self.total_usd, requests=self.requests,
                 billed_post_reads=self.billed_post_reads)
        return d


def schedule_of(cfg) -> tuple[dict[str, str | None], str]:
    """job -> its cron: from schedule.jobs when it names any scheduled job, else every job's
    default (what config.yaml ships)."""
    jobs = cfg.schedule.jobs
    names = [j.name for _, j in REGISTRY.scheduled_jobs()]
    if any(j in jobs for j in names):
        return {j: (jobs[j].cron if j in jobs else None) for j in names}, "schedule.jobs"
    return ({j.name: j.default_cron for _, j in REGISTRY.scheduled_jobs()},
            "the default schedule (schedule.jobs names no job)")


def project(cfg, overrides: dict[str, float] | None = None, measure: bool = True,
            days: int = DAYS) -> CostProjection:
    """A month (``days`` days) of the config's collection: requests, reads and cost per job."""
    crons, schedule_source = schedule_of(cfg)
    runs = {j: (c, runs_per_month(parse_cron(c), days) if c else 0) for j, c in crons.items()}
    out = CostProjection(0, days, [], {}, {}, schedule_source, {}, 0.0, [])
    for source in REGISTRY.sources:
        if source.cost is None or (source.active is not None and not source.active(cfg)):
            continue                      # free, or nothing of it configured
        mine = {j.name: runs.get(j.name, (None, 0)) for j in source.jobs if j.scheduled}
        part = source.cost(cfg, mine, overrides, measure, days)
        for j in part.jobs:
            j.source = source.name
        out.accounts += part.accounts
        out.jobs += part.jobs
        out.rates.update(part.rates)
        out.rate_sources.update(part.rate_sources)
        out.pricing.update(part.pricing)
        out.base_usd += part.base_usd
        out.warnings += part.warnings
        out.rate_help.update(part.rate_help)
        out.notes += part.notes
    return out
