"""Reading compose YAML as compose-go (yaml.v3, YAML 1.2) reads it.

PyYAML speaks YAML 1.1, where `on`, `yes`, `0777` and `1:20` are not strings. The loader
here resolves plain scalars with the YAML 1.2 core schema instead, knows the compose
tags `!reset` and `!override` (compose-spec 13-merge.md), and refuses duplicate keys
as yaml.v3 does, so a file means to us what it means to `docker compose`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from hullscan.compose_env import ComposeError


@dataclass(frozen=True)
class Reset:
    """`!reset`: the attribute is removed from what earlier files (or a base) set."""


@dataclass(frozen=True)
class Override:
    """`!override VALUE`: replaces what earlier files set instead of merging with it."""

    value: Any


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, compose tags and duplicate-key errors."""


# YAML 1.2 core schema resolvers (yaml.v3): only true/false are booleans, no sexagesimal
# numbers, octal as 0o17.
_DROPPED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    explicit = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)  # YAML merge keys (`<<: *anchor`), as yaml.v3 supports
    merged = len(node.value) - explicit  # merged entries come first; explicit keys win
    result: dict[str, Any] = {}
    seen: set[str] = set()
    for position, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
        if position >= merged:
            if key in seen:
                mark = key_node.start_mark
                raise ComposeError(
                    f"line {mark.line + 1}, column {mark.column + 1}: "
                    f"mapping key {key!r} already defined"
                )
            seen.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _construct_reset(loader: _Loader, node: yaml.Node) -> Reset:
    return Reset()


def _construct_override(loader: _Loader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(_construct_mapping(loader, node))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.ScalarNode)
    return Override(loader.construct_scalar(node))


_Loader.add_constructor("!reset", _construct_reset)
_Loader.add_constructor("!override", _construct_override)


def load_documents(text: str, source: str) -> list[dict[str, Any]]:
    """Every YAML document of a compose file, each a mapping (empty documents skipped)."""
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))  # a SafeLoader subclass
    except ComposeError as exc:
        raise ComposeError(f"{source}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ComposeError(f"{source}: invalid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"{source}: invalid YAML: {exc}") from None
    result: list[dict[str, Any]] = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ComposeError(
                f"{source}: a compose file must be a mapping (services:, volumes:, ...), "
                f"got {type(document).__name__}"
            )
        result.append(document)
    return result
