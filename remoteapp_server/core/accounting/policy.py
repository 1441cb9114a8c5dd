"""Grant policies: what they hold, and the one parser of a policy sent by a person.

The REST API (``POST admin/grants``, a JSON ``policy`` object) and the CLI (``grant`` and
``revoke`` options) both build their :class:`Policy` with :meth:`Policy.from_dict`, so
the same bad input gets the same answer from both. The fields are listed here only:
:data:`POLICY_FIELDS`, :data:`POLICY_FLAGS` and :data:`POLICY_TEXTS` are what the
backends, the ORM and the CLI iterate over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import BadRequest

VOLUME_MODES = ("ro", "rw")

# Longest values a policy holds (the database columns are this wide).
MAX_PATH_LENGTH = 1024
MAX_LICENSE_LENGTH = 1024


@dataclass(frozen=True)
class Policy:
    """How a grantee may run an application.

    Empty strings mean "not set" for the volume fields and the license, so that two
    policies with the same content always compare (and store) equal.
    """

    allow_home: bool = False
    allow_view: bool = False
    allow_common: bool = False
    volume_source: str = ""
    volume_target: str = ""
    volume_mode: str = ""
    app_license: str = ""
    allow_startup_data: bool = False

    def __post_init__(self):
        vol = (self.volume_source, self.volume_target, self.volume_mode)
        if any(vol) and not all(vol):
            raise BadRequest(
                "a policy volume needs a source, a target and a mode (ro or rw), "
                f"got {':'.join(vol)!r}"
            )
        if self.volume_mode and self.volume_mode not in VOLUME_MODES:
            raise BadRequest(f"volume mode must be 'ro' or 'rw', not {self.volume_mode!r}")
        for path in (self.volume_source, self.volume_target):
            if path and (not path.startswith("/") or "\0" in path or ":" in path):
                raise BadRequest(f"volume paths must be absolute paths without ':', not {path!r}")
        for what, path in (("source", self.volume_source), ("target", self.volume_target)):
            if path and any(part == ".." for part in path.split("/")):
                raise BadRequest(f"volume {what} must not contain '..': {path!r}")

    @classmethod
    def from_dict(cls, data: Any) -> Policy:
        """The policy a person described: the fields by name, all optional, and ``volume``
        (``SOURCE:TARGET:MODE``) instead of the three ``volume_*`` fields.

        Types are checked, not coerced; every mistake is a BadRequest that says which
        field is wrong.
        """
        if not isinstance(data, Mapping):
            raise BadRequest("policy must be an object")
        unknown = sorted(set(data) - set(POLICY_FIELDS) - {"volume"})
        if unknown:
            raise BadRequest(f"unknown policy field(s): {', '.join(unknown)}")
        for key in POLICY_FLAGS:
            if not isinstance(data.get(key, False), bool):
                raise BadRequest(f"policy.{key} must be true or false")
        for key in ("volume", *POLICY_TEXTS):
            if not isinstance(data.get(key, ""), str):
                raise BadRequest(f"policy.{key} must be text")
        values = {key: value for key, value in data.items() if key != "volume"}
        volume = data.get("volume", "")
        split = sorted(key for key in values if key.startswith("volume_"))
        if volume and split:
            raise BadRequest(f"policy.volume replaces {', '.join(split)}: give one or the other")
        return cls.with_volume(volume, **values)

    @classmethod
    def with_volume(cls, volume: str | None, **kwargs) -> Policy:
        """Build a policy from a ``SOURCE:TARGET:MODE`` volume string (or None)."""
        if not volume:
            return cls(**kwargs)
        source, target, mode = parse_volume(volume)
        return cls(**kwargs, volume_source=source, volume_target=target, volume_mode=mode)

    @property
    def volume(self) -> str | None:
        """The volume as ``SOURCE:TARGET:MODE``, or None."""
        if not self.volume_source:
            return None
        return f"{self.volume_source}:{self.volume_target}:{self.volume_mode}"

    @property
    def flags(self) -> list[str]:
        """The names of the flags that are set."""
        return [flag for flag in POLICY_FLAGS if getattr(self, flag)]

    def to_dict(self) -> dict:
        return asdict(self)


#: every field of a policy, in the order of the dataclass (and of the database columns)
POLICY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Policy))
#: the true/false fields
POLICY_FLAGS: tuple[str, ...] = tuple(f.name for f in fields(Policy) if f.default is False)
#: the text fields ("" is "not set")
POLICY_TEXTS: tuple[str, ...] = tuple(f.name for f in fields(Policy) if f.default == "")


def parse_volume(volume: str) -> tuple[str, str, str]:
    """Split ``SOURCE:TARGET:MODE`` and validate it; raise BadRequest with a clear message."""
    parts = volume.split(":")
    if len(parts) != 3 or not all(parts):
        raise BadRequest(
            f"invalid volume {volume!r}: expected SOURCE:TARGET:MODE, e.g. /data:/mnt/data:ro"
        )
    source, target, mode = parts
    Policy(volume_source=source, volume_target=target, volume_mode=mode)  # validates
    return source, target, mode


def check_grantable(policy: Policy) -> None:
    """What a backend that stores grants checks first: a Policy, with values no longer
    than the columns hold, text every database stores (PostgreSQL refuses NUL; no driver
    encodes lone surrogates) and a volume target docker can mount."""
    if not isinstance(policy, Policy):
        raise BadRequest(f"a grant needs a Policy, not {type(policy).__name__}")
    for field, limit in (
        ("volume_source", MAX_PATH_LENGTH),
        ("volume_target", MAX_PATH_LENGTH),
        ("app_license", MAX_LICENSE_LENGTH),
    ):
        value = getattr(policy, field)
        if len(value) > limit:
            raise BadRequest(f"policy {field} is longer than {limit} characters")
        if "\0" in value or not _encodable(value):
            raise BadRequest(f"policy {field} must be text without NUL or invalid characters")
    # where docker cannot mount: the start would fail for every user of the grant
    target = "/" + "/".join(filter(None, policy.volume_target.split("/")))
    if policy.volume_target and (target in ("/", "/dev", "/proc") or target.startswith("/proc/")):
        raise BadRequest(
            f"volume target {policy.volume_target!r} is not allowed: "
            "docker cannot mount over / or /dev, or inside /proc"
        )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
