"""Typed reading of environment variables for ``gotong.config``, collecting every problem instead of raising.

Split from ``config.py`` (issue 13: modules under about 400 lines): this is the parsing of one value, that
module says which variables exist, their defaults and how they combine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

BYTE_SIZE = re.compile(r"(\d{1,15})\s*(b|kib|kb|k|mib|mb|m|gib|gb|g)?", re.IGNORECASE)


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``rate`` tokens per ``per_seconds``, holding at most ``burst``."""

    rate: float
    per_seconds: float
    burst: int

    @property
    def tokens_per_second(self) -> float:
        return self.rate / self.per_seconds


class EnvReader:
    """Reads typed values from an environment mapping, collecting every problem."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str, default: str) -> str:
        value = self.env.get(name)
        return default if value is None else value.strip()

    def text(self, name: str, default: str, *, allow_empty: bool = True) -> str:
        value = self.raw(name, default)
        if not value and not allow_empty:
            self.problems.append(f"{name} must not be empty")
            return default
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.raw(name, default)
        value = value.upper() if upper else value.lower()
        if value not in choices:
            self.problems.append(f"{name}={value!r} is not one of {', '.join(choices)}")
            return default
        return value

    def byte_size(self, name: str, default: str) -> str:
        """A size as SurrealDB reads it: digits and an optional unit (b, k/kb/kib, m/mb/mib, g/gb/gib), >= 1 MiB."""
        value = self.text(name, default, allow_empty=False).strip()
        found = BYTE_SIZE.fullmatch(value)
        units = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
                 "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}  # fmt: skip
        if found is None or int(found[1]) * units[(found[2] or "").lower()] < 1 << 20:
            self.problems.append(f"{name}={value!r} must be a size of at least 1 MiB, e.g. 64MiB or 1GiB")
            return default
        return value

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.raw(name, str(default))
        try:
            number = int(value)
        except ValueError:
            self.problems.append(f"{name}={value!r} is not an integer")
            return default
        if not minimum <= number <= maximum:
            self.problems.append(f"{name}={number} is outside {minimum}..{maximum}")
            return default
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name, "true" if default else "false").lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name}={value!r} is not a boolean (true/false)")
        return default

    def csv(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.env.get(name)
        if value is None:
            return default
        return tuple(part.strip() for part in value.split(",") if part.strip())

    def rate(self, name: str, default: RateLimit) -> RateLimit:
        """``RATE/SECONDS:BURST``, e.g. ``100/1:200`` or ``10/60:10``."""
        value = self.env.get(name)
        if value is None:
            return default
        try:
            rate_part, burst = value.strip().split(":")
            rate, per = rate_part.split("/")
            parsed = RateLimit(float(rate), float(per), int(burst))
        except ValueError:
            self.problems.append(f"{name}={value!r} is not RATE/SECONDS:BURST (e.g. 100/1:200)")
            return default
        if parsed.rate <= 0 or parsed.per_seconds <= 0 or parsed.burst < 1:
            self.problems.append(f"{name}={value!r} needs positive rate, seconds and burst")
            return default
        return parsed

    def area(self, name: str, default: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """``LAT_MIN,LAT_MAX,LON_MIN,LON_MAX``, e.g. ``-11,6,95,141``."""
        value = self.env.get(name)
        if value is None:
            return default
        try:
            lat_min, lat_max, lon_min, lon_max = (float(part) for part in value.split(","))
        except ValueError:
            self.problems.append(f"{name}={value!r} is not LAT_MIN,LAT_MAX,LON_MIN,LON_MAX")
            return default
        if not (-90 <= lat_min < lat_max <= 90 and -180 <= lon_min < lon_max <= 180):
            self.problems.append(f"{name}={value!r} is not a valid lat/lon box")
            return default
        return (lat_min, lat_max, lon_min, lon_max)


def check_url(reader: EnvReader, name: str, value: str, schemes: tuple[str, ...]) -> None:
    if not value:
        return
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.netloc:
        reader.problems.append(f"{name}={value!r} must be a URL with scheme {'/'.join(schemes)}")
