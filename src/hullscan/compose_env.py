"""Variable interpolation and `.env` files, as `docker compose` evaluates them.

Compose files are interpolated per file, before they are merged, with the shell
environment over the project's `.env` (compose-spec 12-interpolation.md; compose-go's
template package). Supported, exactly as Compose does:

- `$VAR` and `${VAR}` (unset: a warning and an empty string);
- `${VAR:-default}` (unset or empty) and `${VAR-default}` (unset only);
- `${VAR:?message}` and `${VAR?message}`: a ComposeError naming the variable, the file and
  the attribute, with the message;
- `${VAR:+alt}` and `${VAR+alt}`;
- nesting in the default/alternative/message (`${A:-${B:-x}}`), evaluated only when used;
- `$$` for a literal `$`; a `$` not followed by a name or `{` is kept as it is.

Anything else in braces (`${VAR/a/b}`, `${1}`) is rejected, as Compose rejects it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from hullscan.errors import HullscanError

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")

Lookup = Callable[[str], str | None]


class ComposeError(HullscanError):
    """A compose file (or its `.env`) that `docker compose` would refuse; says where and why.

    A usage error for the CLI (exit 2): the user fixes the file or the environment.
    """


class Interpolator:
    """Interpolates strings against one environment and remembers what was unset."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.environment = environment
        self.unset: list[str] = []

    def lookup(self, name: str) -> str | None:
        return self.environment.get(name)

    def __call__(self, text: str, where: str) -> str:
        return interpolate(text, self.lookup, where, self._warn)

    def _warn(self, name: str) -> None:
        if name not in self.unset:
            self.unset.append(name)

    def warnings(self) -> list[str]:
        """Compose's own wording, so users recognise it."""
        return [
            f'The "{name}" variable is not set. Defaulting to a blank string.'
            for name in self.unset
        ]


def interpolate(
    text: str, lookup: Lookup, where: str, on_unset: Callable[[str], None] | None = None
) -> str:
    """Substitute every variable in `text`; `where` names the value in error messages."""
    if "$" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char != "$":
            j = text.find("$", i)
            j = n if j < 0 else j
            out.append(text[i:j])
            i = j
            continue
        following = text[i + 1] if i + 1 < n else ""
        if following == "$":
            out.append("$")
            i += 2
        elif following == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise ComposeError(
                    f"{where}: invalid interpolation format in {text!r}: "
                    "'${' without a closing '}' (write '$$' for a literal '$')"
                )
            out.append(_braced(text[i + 2 : end], text, lookup, where, on_unset))
            i = end + 1
        else:
            match = _NAME.match(text, i + 1)
            if match is None:  # `$` then anything else: kept, as Compose does
                out.append("$")
                i += 1
                continue
            name = match.group()
            value = lookup(name)
            if value is None:
                if on_unset is not None:
                    on_unset(name)
                value = ""
            out.append(value)
            i = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    """Index of the `}` closing a `${` whose content starts at `start`, nesting counted."""
    depth = 1
    i = start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _braced(
    inner: str, whole: str, lookup: Lookup, where: str, on_unset: Callable[[str], None] | None
) -> str:
    match = _NAME.match(inner)
    rest = inner[match.end() :] if match else inner
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if match is None or (rest and operator is None):
        raise ComposeError(
            f"{where}: invalid interpolation format in {whole!r}: '${{{inner}}}' is not "
            "supported (Compose knows ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, "
            "${VAR?err}, ${VAR:+alt}, ${VAR+alt}; write '$$' for a literal '$')"
        )
    name = match.group()
    value = lookup(name)
    if operator is None:
        if value is None:
            if on_unset is not None:
                on_unset(name)
            return ""
        return value
    argument = rest[len(operator) :]

    def arg() -> str:
        return interpolate(argument, lookup, where, on_unset)

    is_set = value is not None
    non_empty = bool(value)
    if operator == ":-":
        return value if non_empty and value is not None else arg()
    if operator == "-":
        return value if value is not None else arg()
    if operator == ":+":
        return arg() if non_empty else ""
    if operator == "+":
        return arg() if is_set else ""
    # required: `:?` wants a non-empty value, `?` any value
    if (operator == ":?" and non_empty) or (operator == "?" and is_set):
        assert value is not None
        return value
    message = arg()
    state = "empty" if is_set else "not set"
    detail = f": {message}" if message else ""
    raise ComposeError(f"{where}: required variable {name} is missing a value ({state}){detail}")


# --- .env files --------------------------------------------------------------------------

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([^\s=#]+)\s*(=)?(.*)$", re.DOTALL)
_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}


def parse_env_file(text: str, source: str, base: Mapping[str, str]) -> dict[str, str]:
    """Parse a dotenv file as compose-go's dotenv does, in order.

    `KEY=VALUE` lines with optional `export `; `#` comments (inline after whitespace for
    unquoted values); single quotes are literal; double quotes allow `\\n`-style escapes
    and span lines; unquoted and double-quoted values are interpolated against the
    variables defined so far over `base` (the shell environment wins later, not here).
    A bare `KEY` takes its value from `base` when set there.
    """
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        if name in values:
            return values[name]
        return base.get(name)

    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise ComposeError(f"{source}:{lineno}: cannot parse {stripped!r} (expected KEY=VALUE)")
        key, equals, raw = match.group(1), match.group(2), match.group(3)
        if not _NAME.fullmatch(key) and not re.fullmatch(r"[A-Za-z0-9_.\-]+", key):
            raise ComposeError(f"{source}:{lineno}: invalid variable name {key!r}")
        if not equals:
            if raw.strip() and not raw.strip().startswith("#"):
                raise ComposeError(
                    f"{source}:{lineno}: cannot parse {stripped!r} (expected KEY=VALUE)"
                )
            inherited = base.get(key)
            if inherited is not None:
                values[key] = inherited
            continue
        raw = raw.lstrip()
        where = f"{source}:{lineno}: {key}"
        if raw.startswith("'"):
            value, remainder, i = _quoted(raw, "'", lines, i, source, lineno)
            _check_trailing(remainder, source, lineno)
            values[key] = value
        elif raw.startswith('"'):
            value, remainder, i = _quoted(raw, '"', lines, i, source, lineno)
            _check_trailing(remainder, source, lineno)
            unescaped = re.sub(
                r"\\(.)", lambda m: _DOUBLE_ESCAPES.get(m.group(1), "\\" + m.group(1)), value
            )
            values[key] = interpolate(unescaped, lookup, where)
        else:
            comment = re.search(r"\s#", raw)
            if comment:
                raw = raw[: comment.start()]
            values[key] = interpolate(raw.strip(), lookup, where)
    return values


def _quoted(
    raw: str, quote: str, lines: list[str], i: int, source: str, lineno: int
) -> tuple[str, str, int]:
    """The text between quotes (possibly over several lines), what follows, next line index."""
    body = raw[1:]
    collected: list[str] = []
    while True:
        end = _unescaped_quote(body, quote)
        if end >= 0:
            collected.append(body[:end])
            return "\n".join(collected), body[end + 1 :], i
        collected.append(body)
        if i >= len(lines):
            raise ComposeError(f"{source}:{lineno}: unterminated {quote}-quoted value")
        body = lines[i]
        i += 1


def _unescaped_quote(text: str, quote: str) -> int:
    i = 0
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


def _check_trailing(remainder: str, source: str, lineno: int) -> None:
    rest = remainder.strip()
    if rest and not rest.startswith("#"):
        raise ComposeError(f"{source}:{lineno}: unexpected text after the quoted value: {rest!r}")


def load_env_file(path: Path, base: Mapping[str, str]) -> dict[str, str]:
    """Read and parse one env file; a missing or unreadable file is a ComposeError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ComposeError(f"env file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ComposeError(f"cannot read env file {path}: {exc}") from None
    return parse_env_file(text, str(path), base)
