"""The value types of the configuration file, its section base and its one error type.

The configuration is validated by pydantic models (:mod:`scheduler.config` puts them
together; each section is defined next to the code that uses it). Each value
type here checks its value before pydantic does, so that a mistake reads the way a person
writes the file: :func:`one_line` turns the first error of a validation into one
:class:`ConfigError` line naming the key, e.g.
``sources.kcna.every: bad duration "15 minutes" (use e.g. 30s, 15m, 2h)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError


class ConfigError(ValueError):
    """The configuration cannot be used; the message is one line naming the key."""


DURATION_HINT = "use e.g. 30s, 15m, 2h"
#: The longest duration the configuration takes (an interval, a timeout, an age).
MAX_DURATION = timedelta(days=365)
#: The largest whole number the configuration takes (pages, concurrency, counts).
MAX_WHOLE = 1_000_000_000
_DURATION_RE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


# -- durations ---------------------------------------------------------------------------


class DurationTooLong(ValueError):
    """A well-formed duration longer than :data:`MAX_DURATION`."""


def parse_duration(text: str) -> timedelta:
    """``"30s"``, ``"15m"``, ``"2h"``, ``"1h30m"``, ``"1d"``, ``"500ms"`` as a timedelta.

    Raises ValueError for anything else (bare numbers included: the unit is required), and
    :class:`DurationTooLong` for a duration longer than :data:`MAX_DURATION`.
    """
    compact = text.strip().replace(" ", "") if isinstance(text, str) else None
    if not compact or not _DURATION_RE.fullmatch(compact):
        raise ValueError(text)
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART_RE.findall(compact))
    if not seconds <= MAX_DURATION.total_seconds():  # also refuses an infinite sum
        raise DurationTooLong(text)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """A duration the way the configuration writes it: ``15m``, ``1h30m``, ``2.5s``."""
    total = value.total_seconds()
    if total < 60 and total != int(total):
        return f"{total:g}s"
    seconds = int(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


# -- mistakes ----------------------------------------------------------------------------


def show(value: Any) -> str:
    """A value as a message quotes it."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


#: Where a mistake is below the key being validated: a key, an index, or a path of them.
At = str | int | tuple[str | int, ...] | None


def mistake(message: str, *, at: At = None) -> PydanticCustomError:
    """A validation error whose message is ``message``; ``at`` names the key below the one
    being validated that it is about (``"jitter"``, ``("start_urls", 2)``)."""
    return PydanticCustomError("config", "{message}", {"message": message, "at": at})


def not_a_table(value: Any, header: str | None = None) -> PydanticCustomError:
    """``expected a table ([key]), got ...``; ``header`` replaces ``[key]`` (``[[watch]]``)."""
    return PydanticCustomError(
        "config_table", "expected a table", {"header": header, "got": show(value)}
    )


def one_line(error: ValidationError) -> str:
    """The first mistake of a validation as one line naming the key (whitespace in a quoted
    value included)."""
    return " ".join(_line(error.errors()[0]).split())


def _line(detail: ErrorDetails) -> str:
    context: Mapping[str, Any] = detail.get("ctx") or {}
    name = _key_name((*detail["loc"], *_parts(context.get("at"))))
    if detail["type"] == "config":
        message = str(context["message"])
    elif detail["type"] == "config_table":
        message = f"expected a table ({context['header'] or f'[{name}]'}), got {context['got']}"
    else:  # a check of pydantic's own: its words
        message = detail["msg"]
    return f"{name}: {message}" if name else message


def _parts(at: At) -> tuple[str | int, ...]:
    if at is None:
        return ()
    return at if isinstance(at, tuple) else (at,)


def _key_name(loc: tuple[str | int, ...]) -> str:
    """``("sources", "kcna", "start_urls", 1)`` as ``sources.kcna.start_urls[1]``."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
    return name


# -- value types -------------------------------------------------------------------------


def non_empty(value: Any) -> str:
    """A non-empty string, stripped (raises :func:`mistake`)."""
    if not isinstance(value, str) or not value.strip():
        raise mistake(f"expected a non-empty string, got {show(value)}")
    return value.strip()


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise mistake(f"expected true or false, got {show(value)}")
    return value


def http_url(value: Any) -> str:
    """An http(s) URL with a host, stripped (raises :func:`mistake`)."""
    if not isinstance(value, str):
        raise mistake(f"expected an http(s) URL, got {show(value)}")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise mistake(f'not an http(s) URL: "{value}"')
    return value.strip()


#: A non-empty string (stripped).
Text = Annotated[str, BeforeValidator(non_empty)]
#: ``true`` or ``false``.
Flag = Annotated[bool, BeforeValidator(_flag)]
#: An http(s) URL with a host.
HttpUrl = Annotated[str, BeforeValidator(http_url)]


def duration(
    *, minimum: float = 0.0, positive: bool = False, false_is_none: bool = False
) -> BeforeValidator:
    """A duration as the file writes it (``"15m"``), at least ``minimum`` seconds (more
    than 0 when ``positive``); ``false_is_none``: ``false`` turns it off (None)."""

    def check(value: Any) -> timedelta | None:
        if value is None or (false_is_none and value is False):
            return None
        parsed = value if isinstance(value, timedelta) else _parse(value)
        if parsed > MAX_DURATION:
            raise mistake(_too_long(value))
        seconds = parsed.total_seconds()
        if seconds < minimum or (positive and seconds <= 0):
            least = f"at least {format_duration(timedelta(seconds=minimum))}"
            raise mistake(
                f"{format_duration(parsed)} is too short"
                f" ({least if minimum else 'must be more than 0s'})"
            )
        return parsed

    return BeforeValidator(check)


def _parse(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except DurationTooLong:
        raise mistake(_too_long(value)) from None
    except (ValueError, TypeError):
        raise mistake(f"bad duration {show(value)} ({DURATION_HINT})") from None


def _too_long(value: Any) -> str:
    return f"{show(value)} is too long (at most {format_duration(MAX_DURATION)})"


def whole(
    *, minimum: int = 1, maximum: int = MAX_WHOLE, expected: str | None = None
) -> BeforeValidator:
    """A whole number from ``minimum`` to ``maximum``; ``expected`` says what is asked for
    (default: "a whole number of at least MINIMUM")."""
    wanted = expected or f"a whole number of at least {minimum}"

    def check(value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise mistake(f"expected {wanted}, got {show(value)}")
        if value > maximum:
            raise mistake(f"{value} is too large (at most {maximum})")
        return value

    return BeforeValidator(check)


def each_once(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """The values without repeats, in their order (an ``AfterValidator`` of a list)."""
    return tuple(dict.fromkeys(values))


def listed(what: str, *, empty: bool = True) -> BeforeValidator:
    """A TOML array (of ``what``, for the message); ``empty``: may it be empty?"""

    def check(value: Any) -> Any:
        if not isinstance(value, list | tuple) or (not empty and not value):
            raise mistake(f"expected {what}, got {show(value)}")
        return value

    return BeforeValidator(check)


# -- sections ----------------------------------------------------------------------------


class Section(BaseModel):
    """A table of the file: unknown keys and missing required ones are mistakes.

    A field whose key in the file is not its name (``from``) has the key as its alias;
    ``internal`` fields are never written in the file (the section above sets them);
    ``header`` is how the file writes the table when it is not ``[its.key]``;
    ``needs`` completes the message of a missing required key.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    internal: ClassVar[frozenset[str]] = frozenset()
    header: ClassVar[str | None] = None
    needs: ClassVar[str] = ""

    @classmethod
    def file_keys(cls) -> list[str]:
        """The keys the file may give this table, sorted."""
        fields = cls.model_fields.items()
        return sorted(f.alias or name for name, f in fields if name not in cls.internal)

    @model_validator(mode="before")
    @classmethod
    def _table(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise not_a_table(data, cls.header)
        allowed = cls.file_keys()
        for key in data:
            if key not in allowed and key not in cls.internal:
                raise mistake(f"unknown key (allowed: {', '.join(allowed)})", at=key)
        for name, field in cls.model_fields.items():
            key = field.alias or name
            if field.is_required() and key not in data and name not in cls.internal:
                raise mistake(f"missing{f' ({cls.needs})' if cls.needs else ''}", at=key)
        return data
