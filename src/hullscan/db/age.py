"""How old the vulnerability DB is, and the warning every scan output carries about it.

Kept apart from db.distribution so a scan can warn without importing the network stack."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hullscan.model import DbInfo

DEFAULT_MAX_AGE = timedelta(hours=24)
DEFAULT_WARN_AGE = timedelta(days=7)


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def db_age(info: DbInfo, now: datetime) -> timedelta | None:
    """How long ago the DB was built; None when its build time is unreadable."""
    built = _parse_time(info.built_at)
    return None if built is None else now.astimezone(UTC) - built


def db_age_warning(
    info: DbInfo, now: datetime, max_age: timedelta = DEFAULT_WARN_AGE
) -> str | None:
    """The warning every output carries when the DB is older than `max_age`, else None."""
    age = db_age(info, now)
    if age is None:
        return (
            f"the vulnerability DB has no valid build time ({info.built_at!r}); it may be "
            "outdated: update it with `hullscan db update` or `hullscan db build`"
        )
    if age <= max_age:
        return None
    days = age.days
    span = f"{days} days" if days >= 2 else f"{int(age.total_seconds() // 3600)} hours"
    return (
        f"the vulnerability DB is {span} old (built {info.built_at}): vulnerabilities "
        "published since then are not reported; update it with `hullscan db update` or "
        "`hullscan db build`"
    )


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`24h`, `7d`, `90m`, `1d12h`, `0` -> timedelta; ValueError with the accepted forms."""
    value = text.strip().lower()
    if value == "0":
        return timedelta(0)
    pos = 0
    seconds = 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos and value[pos : match.start()].strip():
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2).lower()]
        pos = match.end()
    if pos == 0 or value[pos:].strip():
        raise ValueError(f"{text!r} is not a duration (examples: 30m, 24h, 7d, 1d12h)")
    return timedelta(seconds=seconds)
