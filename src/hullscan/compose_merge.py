"""Merging compose documents (`-f a.yml -f b.yml`, and `extends`) by the compose rules.

The rules of compose-spec 13-merge.md as compose-go's `override` package applies them,
to files and to `extends` alike:

- mappings merge key by key, the later file winning; a null in the later file keeps the
  earlier value;
- sequences are appended; `profiles` and the other set-like lists are then de-duplicated,
  `volumes`/`secrets`/`configs` keep one entry per container target, `ports` one per
  identical mapping (compose's "unique resources");
- scalars are replaced; `command`, `entrypoint` and `healthcheck.test` are replaced whole;
- `build: ./dir` is read as `build: {context: ./dir}` before merging, so a later
  `build: {dockerfile: ...}` keeps the context;
- `environment`, `labels`, `build.args` and the like are merged as KEY=VALUE lists;
  `depends_on` and `networks` as mappings;
- `!reset` removes the attribute, `!override` replaces it without merging.

Exactness matters for `image`, `build`, `profiles` and `extends` (what hullscan reads);
the rest follows the same rules closely enough for a faithful model.
"""

from __future__ import annotations

import copy
from typing import Any

from hullscan.compose_yaml import Override, Reset

_REPLACED = {"command", "entrypoint"}
_AS_KEY_VALUE_LIST = {
    "environment",
    "labels",
    "annotations",
    "sysctls",
    "env_file",
    "label_file",
    "dns",
    "dns_opt",
    "dns_search",
    "tmpfs",
    "extra_hosts",
}
_AS_MAPPING = {"depends_on", "networks", "models"}
_UNIQUE_ITEMS = {
    "profiles",
    "cap_add",
    "cap_drop",
    "devices",
    "expose",
    "external_links",
    "links",
    "security_opt",
    "group_add",
    "ports",
    "extra_hosts",
}
_BY_TARGET = {"volumes", "secrets", "configs"}


def merge_documents(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` (a later file) merged onto `base`; neither argument is modified."""
    merged = _merge(copy.deepcopy(base), copy.deepcopy(override), ())
    assert isinstance(merged, dict)
    services = merged.get("services")
    if isinstance(services, dict):
        for service in services.values():
            if isinstance(service, dict):
                enforce_unicity(service)
    stripped: dict[str, Any] = strip_tags(merged)
    return stripped


def merge_service(base: dict[str, Any], service: dict[str, Any]) -> dict[str, Any]:
    """A service that `extends` `base`: the same rules as files (compose-go ExtendService)."""
    merged = _merge(copy.deepcopy(base), copy.deepcopy(service), ("services", "*"))
    assert isinstance(merged, dict)
    enforce_unicity(merged)
    return merged


def strip_tags(value: Any) -> Any:
    """Resolve what `!reset`/`!override` left in a document that nothing was merged into."""
    if isinstance(value, Override):
        return strip_tags(value.value)
    if isinstance(value, dict):
        return {k: strip_tags(v) for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [strip_tags(v) for v in value if not isinstance(v, Reset)]
    return value


def _service_attr(path: tuple[str, ...]) -> str | None:
    """`build` for services.<name>.build, None elsewhere."""
    if len(path) == 3 and path[0] == "services":
        return path[2]
    return None


def _merge(base: Any, other: Any, path: tuple[str, ...]) -> Any:
    if isinstance(other, Override):
        return strip_tags(other.value)
    attr = _service_attr(path)
    if attr == "build":
        base, other = _build_mapping(base), _build_mapping(other)
    elif attr in _REPLACED or path == ("services", "*", "healthcheck", "test"):
        return base if other is None else strip_tags(other)
    elif attr in _AS_KEY_VALUE_LIST and other is not None:
        return _as_sequence(base) + _as_sequence(strip_tags(other))
    elif attr in _AS_MAPPING and other is not None:
        base, other = _as_mapping(base, attr), _as_mapping(other, attr)
    if other is None:
        return base
    if isinstance(base, dict) and isinstance(other, dict):
        for key, value in other.items():
            if isinstance(value, Reset):
                base.pop(key, None)
            elif key not in base or base[key] is None:
                base[key] = strip_tags(value)
            else:
                base[key] = _merge(base[key], value, _next(path, key))
        return base
    if isinstance(base, list) and isinstance(other, list):
        return base + strip_tags(other)
    return strip_tags(other)


def _next(path: tuple[str, ...], key: str) -> tuple[str, ...]:
    # services.<any name> are matched as services.*: the name never changes a rule
    return (*path, "*" if path == ("services",) else key)


def _build_mapping(value: Any) -> Any:
    return {"context": value} if isinstance(value, str) else value


def _as_sequence(value: Any) -> list[Any]:
    if isinstance(value, dict):
        items: list[Any] = []
        for key, item in value.items():
            if item is None:
                items.append(key)
            elif isinstance(item, list):
                items.extend(f"{key}={v}" for v in item)
            else:
                items.append(f"{key}={_scalar_text(item)}")
        return sorted(items, key=str)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [value]
    return []


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_mapping(value: Any, attr: str) -> Any:
    if isinstance(value, list):
        if attr == "depends_on":
            return {str(v): {"condition": "service_started", "required": True} for v in value}
        return {str(v): None for v in value}
    return value


def enforce_unicity(service: dict[str, Any]) -> None:
    """Compose's unique resources: one volume/secret/config per target, no duplicates."""
    for attr in _UNIQUE_ITEMS:
        items = service.get(attr)
        if isinstance(items, list):
            service[attr] = _dedup(items, lambda item: repr(item))
    for attr in _BY_TARGET:
        items = service.get(attr)
        if isinstance(items, list):
            service[attr] = _dedup_last(items, _target)


def _dedup(items: list[Any], key: Any) -> list[Any]:
    seen: set[str] = set()
    result = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            result.append(item)
    return result


def _dedup_last(items: list[Any], key: Any) -> list[Any]:
    """One entry per key, the later one winning, in the position of the first."""
    order: list[str] = []
    chosen: dict[str, Any] = {}
    for item in items:
        k = key(item)
        if k not in chosen:
            order.append(k)
        chosen[k] = item
    return [chosen[k] for k in order]


def _target(item: Any) -> str:
    """The container path of a volume/secret/config, short or long syntax."""
    if isinstance(item, dict):
        return str(item.get("target") or item.get("source") or repr(item))
    if isinstance(item, str):
        parts = item.split(":")
        if len(parts) >= 2:
            return parts[1]
        return parts[0]
    return repr(item)
