"""Standard 5-field cron expressions with cron's meaning, turned into APScheduler triggers.

APScheduler 3.x's ``CronTrigger.from_crontab`` reads the day of week its own way: ``0`` is
Monday and ``7`` is rejected, so ``0 9 * * 0`` would fire on Mondays. This module parses the
five fields itself, the way cron (``man 5 crontab``) does, and hands APScheduler explicit values:

- minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-7 or sun-sat,
  where ``0`` and ``7`` are both Sunday;
- each field is a list (``1,15``) of ``*``, ``N``, ``N-M``, ``*/S`` or ``N-M/S``; names work in
  the month and day-of-week fields, also in ranges (``mon-fri``);
- when both day of month and day of week are restricted (neither starts with ``*``) a day
  matches if **either** matches (``0 0 1 * mon`` fires on the 1st and on every Monday), as in cron;
- the macros ``@hourly``, ``@daily``/``@midnight``, ``@weekly``, ``@monthly``,
  ``@yearly``/``@annually``.

``N/S`` (a start without an end) is not standard cron and is rejected; write ``N-59/S``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import tzinfo

MACROS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_NUMBER = re.compile(r"[0-9]+")      # ASCII digits only ('²'.isdigit() is True)
# APScheduler's day_of_week names, indexed by cron's number (0 = Sunday)
APS_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

# name, lowest, highest, names allowed
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)


class CronError(ValueError):
    """A cron expression that cron would not accept (or that can never fire)."""


@dataclass(frozen=True)
class CronExpr:
    """A parsed expression: the values each field allows (day of week: 0 = Sunday .. 6)."""

    text: str
    minute: tuple[int, ...]
    hour: tuple[int, ...]
    day: tuple[int, ...]
    month: tuple[int, ...]
    day_of_week: tuple[int, ...]
    day_star: bool          # the day-of-month field starts with '*'
    dow_star: bool          # the day-of-week field starts with '*'

    def trigger(self, timezone: tzinfo):
        """An APScheduler trigger that fires exactly when cron would (in ``timezone``)."""
        # on first use: most commands never build a trigger
        from apscheduler.triggers.combining import OrTrigger
        from apscheduler.triggers.cron import CronTrigger

        def join(values, lo: int, hi: int) -> str:
            if list(values) == list(range(lo, hi + 1)):
                return "*"
            return ",".join(str(v) for v in values)

        common = dict(minute=join(self.minute, 0, 59), hour=join(self.hour, 0, 23),
                      month=join(self.month, 1, 12), timezone=timezone)
        day = join(self.day, 1, 31)
        dow = ("*" if len(self.day_of_week) == 7
               else ",".join(APS_DAYS[d] for d in self.day_of_week))
        if self.day_star or self.dow_star:
            # cron: day of month AND day of week (one of them is '*' or '*/S')
            return CronTrigger(day=day, day_of_week=dow, **common)
        # cron: both restricted → a day matches if EITHER field matches
        return OrTrigger([CronTrigger(day=day, day_of_week="*", **common),
                          CronTrigger(day="*", day_of_week=dow, **common)])


def _value(token: str, name: str, lo: int, hi: int, names: dict[str, int]) -> int:
    t = token.strip().lower()
    if t in names:
        return names[t]
    if not _NUMBER.fullmatch(t):
        hint = f" (or {', '.join(list(names)[:3])}…)" if names else ""
        raise CronError(f"{name}: {token!r} is not a number from {lo} to {hi}{hint}")
    v = int(t)
    if not lo <= v <= hi:
        raise CronError(f"{name}: {v} is out of range {lo}-{hi}")
    return v


def _field(text: str, name: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{name}: empty list item in {text!r}")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not _NUMBER.fullmatch(step_text) or int(step_text) < 1:
                raise CronError(f"{name}: step {step_text!r} in {part!r} must be a positive "
                                "number")
            step = int(step_text)
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, name, lo, hi, names), _value(b, name, lo, hi, names)
            if first > last:
                hint = " (Sunday is 0 or 7: write mon-7 or 1-7)" if names is DAYS else ""
                raise CronError(f"{name}: range {base!r} runs backwards{hint}")
        else:
            if slash:
                raise CronError(f"{name}: {part!r} is not standard cron; write "
                                f"{base}-{hi}/{step} for 'from {base}, every {step}'")
            first = last = _value(base, name, lo, hi, names)
        out.update(range(first, last + 1, step))
    return out


def parse_cron(text: str) -> CronExpr:
    """Parse a 5-field cron expression (or a macro); raise CronError saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise CronError("empty cron expression")
    expr = text.strip()
    fields = MACROS.get(expr.lower(), expr).split()
    if expr.startswith("@") and expr.lower() not in MACROS:
        raise CronError(f"unknown macro {expr!r} (known: {', '.join(MACROS)}; @reboot is not "
                        "a schedule)")
    if len(fields) != 5:
        raise CronError(f"{expr!r} has {len(fields)} fields; cron needs 5: minute hour "
                        "day-of-month month day-of-week")
    values = [sorted(_field(f, name, lo, hi, names))
              for f, (name, lo, hi, names) in zip(fields, _FIELDS)]
    minute, hour, day, month, dow = values
    dow = sorted({d % 7 for d in dow})           # 7 is Sunday, like 0
    day_star, dow_star = fields[2].startswith("*"), fields[4].startswith("*")
    if day_star or dow_star:                     # AND: the day of month alone must exist
        possible = any(d <= calendar.monthrange(2024, m)[1] for m in month for d in day)
        if not possible:
            raise CronError(f"{expr!r} never fires (no month in it has those days)")
    return CronExpr(expr, tuple(minute), tuple(hour), tuple(day), tuple(month), tuple(dow),
                    day_star, dow_star)
