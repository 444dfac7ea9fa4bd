"""Find adapters and suites through their entry-point groups.

Loading an entry point imports only the adapter module, never the library it
wraps: adapter modules import their library lazily, after `availability()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from harness.adapters import Adapter, Availability
from harness.suite import Suite

VENDOR_GROUP = "qsbench.vendors"
SUITE_GROUP = "qsbench.suites"


class UnknownPlugin(LookupError):
    pass


@dataclass(frozen=True)
class VendorInfo:
    name: str
    kind: str
    available: bool
    version: str
    capabilities: list[str]
    reason: str


def _names(group: str) -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=group)}


def _load(group: str, name: str, base: type):
    eps = _names(group)
    if name not in eps:
        what = "adapter" if group == VENDOR_GROUP else "suite"
        raise UnknownPlugin(f"no {what} named {name!r}; registered: {', '.join(sorted(eps)) or 'none'}")
    cls = eps[name].load()  # type: ignore[attr-defined]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise UnknownPlugin(f"entry point {name!r} in {group} is not a {base.__name__} subclass")
    return cls


@cache
def adapter_class(name: str) -> type[Adapter]:
    return _load(VENDOR_GROUP, name, Adapter)


@cache
def suite_class(name: str) -> type[Suite]:
    return _load(SUITE_GROUP, name, Suite)


def adapter_names() -> list[str]:
    return sorted(_names(VENDOR_GROUP))


def suite_names() -> list[str]:
    return sorted(_names(SUITE_GROUP))


def vendor_info(name: str) -> VendorInfo:
    """Describe one adapter; a plugin that fails to load is reported, not raised."""
    try:
        cls = adapter_class(name)
    except Exception as exc:  # a broken third-party plugin must not hide the others
        return VendorInfo(name, "?", False, "", [], f"adapter failed to load: {type(exc).__name__}: {exc}")
    try:
        avail = cls.availability()
    except Exception as exc:
        avail = Availability(False, f"availability check raised {type(exc).__name__}: {exc}")
    version = cls.version() if avail.available else ""
    return VendorInfo(
        name=name,
        kind=str(cls.kind),
        available=avail.available,
        version=version,
        capabilities=sorted(str(c) for c in cls.capabilities),
        reason=avail.reason,
    )
