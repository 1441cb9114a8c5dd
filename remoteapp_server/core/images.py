"""The image label protocol (compatible with SimPhoNy-remote images).

An image declares itself a remoteapp application with labels under a namespace
(default ``eu.simphony-project.docker.``): ``ui_name``, ``icon_128`` (base64 PNG),
``description``, ``type`` (``vncapp`` or ``webapp``) and ``env.<kebab-name>`` for every
environment variable it accepts. Reserved env keys map to *configurables*, the choices a
user makes at start: ``x11-width``/``x11-height``/``x11-depth`` → ``resolution``,
``startupdata`` → ``startupdata``.

Listing never fails because of one image's labels: invalid values are dropped (with a
warning in ``Image.problems``) and defaults are used.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import BadRequest

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "eu.simphony-project.docker."
APP_TYPES = ("vncapp", "webapp")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Icons are shown in a launcher card: a generous bound that still keeps listings small.
MAX_ICON_BYTES = 256 * 1024
_KEBAB_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def env_var_name(kebab: str) -> str:
    """``x11-width`` → ``X11_WIDTH``: the env var an ``env.<kebab>`` label stands for."""
    return kebab.upper().replace("-", "_")


class Configurable:
    """A choice made by the user at start time that becomes environment variables."""

    tag: ClassVar[str]
    #: env keys (kebab case) that make an image support this configurable
    env_keys: ClassVar[tuple[str, ...]]

    def describe(self) -> dict[str, Any]:
        """The JSON the frontend needs to render the choice."""
        raise NotImplementedError

    def to_env(self, value: Any, policy) -> dict[str, str]:
        """Validate ``value`` (as sent by a client) and turn it into env vars."""
        raise NotImplementedError


class Resolution(Configurable):
    """The X display size of a VNC desktop, as ``WIDTHxHEIGHT`` (depth 24 unless given)."""

    tag = "resolution"
    env_keys = ("x11-width", "x11-height", "x11-depth")
    MIN = (320, 200)
    MAX = (7680, 4320)
    DEPTHS = (16, 24, 32)
    DEFAULT = "1280x800"
    PRESETS = ("1024x768", "1280x800", "1440x900", "1920x1080")
    _RE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*(?:[xX×]\s*(\d{1,2}))?\s*$")

    def describe(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "default": self.DEFAULT,
            "presets": list(self.PRESETS),
            "min": "{}x{}".format(*self.MIN),
            "max": "{}x{}".format(*self.MAX),
        }

    @classmethod
    def parse(cls, value: Any) -> tuple[int, int, int]:
        """``"1280x800"`` (or ``"1280x800x24"``) → (1280, 800, 24); BadRequest otherwise."""
        match = cls._RE.match(value) if isinstance(value, str) else None
        if not match:
            raise BadRequest(
                f"invalid resolution {value!r}: expected WIDTHxHEIGHT, e.g. {cls.DEFAULT}"
            )
        width, height = int(match[1]), int(match[2])
        depth = int(match[3]) if match[3] else 24
        if not (cls.MIN[0] <= width <= cls.MAX[0] and cls.MIN[1] <= height <= cls.MAX[1]):
            raise BadRequest(
                f"resolution {width}x{height} is out of range: from {{}}x{{}} to {{}}x{{}}".format(
                    *cls.MIN, *cls.MAX
                )
            )
        if depth not in cls.DEPTHS:
            raise BadRequest(f"colour depth {depth} is not one of {cls.DEPTHS}")
        return width, height, depth

    def to_env(self, value: Any, policy) -> dict[str, str]:
        width, height, depth = self.parse(value)
        return {"X11_WIDTH": str(width), "X11_HEIGHT": str(height), "X11_DEPTH": str(depth)}


class StartupData(Configurable):
    """A file the application opens at start, as a path inside the user's home.

    Only allowed when the policy says ``allow_startup_data``; the path must be relative
    and stay inside the home (no ``..``), since it is resolved inside the container.
    """

    tag = "startupdata"
    env_keys = ("startupdata",)
    MAX_LENGTH = 4096

    def describe(self) -> dict[str, Any]:
        return {"tag": self.tag, "default": ""}

    def to_env(self, value: Any, policy) -> dict[str, str]:
        if value in (None, ""):
            return {}
        if policy is None or not policy.allow_startup_data:
            raise BadRequest("startup data is not allowed by the policy of this application")
        if not isinstance(value, str) or len(value) > self.MAX_LENGTH:
            raise BadRequest("startup data must be a path of at most 4096 characters")
        if "\0" in value or any(ord(c) < 32 for c in value):
            raise BadRequest("startup data path must not contain control characters")
        parts = value.strip("/").split("/")
        if value.startswith("/") or ".." in parts:
            raise BadRequest(
                f"startup data must be a path relative to your home without '..': {value!r}"
            )
        return {"STARTUPDATA": value}


CONFIGURABLES: tuple[type[Configurable], ...] = (Resolution, StartupData)


@dataclass
class Image:
    """A docker image as a remoteapp application, read from its labels."""

    name: str
    ui_name: str
    description: str = ""
    icon_128: str = ""
    type: str = "vncapp"
    env: list[str] = field(default_factory=list)
    configurables: list[Configurable] = field(default_factory=list)
    #: why some labels were ignored; listing goes on
    problems: list[str] = field(default_factory=list)
    #: False when the image carries none of the remoteapp labels
    labelled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ui_name": self.ui_name,
            "description": self.description,
            "icon_128": self.icon_128,
            "type": self.type,
            "configurables": [c.describe() for c in self.configurables],
        }

    def configurables_env(self, values: dict[str, Any] | None, policy=None) -> dict[str, str]:
        """Validate the user's configurable choices and turn them into env vars.

        Unknown configurables are refused (BadRequest), so a typo never goes unnoticed.
        """
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise BadRequest('configurables must be an object, e.g. {"resolution": "1280x800"}')
        known = {c.tag: c for c in self.configurables}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise BadRequest(
                f"unknown configurable(s) {', '.join(map(repr, unknown))} for image "
                f"{self.name!r}; it accepts: {', '.join(sorted(known)) or 'none'}"
            )
        env: dict[str, str] = {}
        for tag, configurable in known.items():
            if tag in values:
                env.update(configurable.to_env(values[tag], policy))
            elif isinstance(configurable, Resolution):
                env.update(configurable.to_env(configurable.DEFAULT, policy))
        return env


def is_remoteapp_image(labels: dict[str, str] | None, namespace: str = DEFAULT_NAMESPACE) -> bool:
    """An image is an application when it carries at least the ``ui_name`` or ``type`` label."""
    labels = labels or {}
    return any(f"{namespace}{key}" in labels for key in ("ui_name", "type"))


def _valid_icon(value: str) -> str | None:
    """Return the base64 text if it is a PNG of reasonable size, else None."""
    if len(value) > MAX_ICON_BYTES * 4 // 3 + 4:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(raw).decode() if raw.startswith(_PNG_SIGNATURE) else None


def image_from_labels(
    name: str, labels: dict[str, str] | None, namespace: str = DEFAULT_NAMESPACE
) -> Image:
    """Build an :class:`Image` from docker labels; never raises for bad label values."""
    labels = labels or {}
    ns = namespace
    problems: list[str] = []

    def text(key: str, limit: int) -> str:
        value = labels.get(ns + key, "")
        if not isinstance(value, str):
            problems.append(f"label {key} is not text")
            return ""
        if len(value) > limit:
            problems.append(f"label {key} longer than {limit} characters was cut")
            value = value[:limit]
        return value.strip()

    ui_name = text("ui_name", 200) or name
    description = text("description", 4000)
    app_type = text("type", 20) or "vncapp"
    if app_type not in APP_TYPES:
        problems.append(f"unknown type {app_type!r}, using vncapp")
        app_type = "vncapp"
    icon = ""
    raw_icon = labels.get(ns + "icon_128", "")
    if raw_icon:
        icon = _valid_icon(raw_icon) if isinstance(raw_icon, str) else None
        if icon is None:
            problems.append("icon_128 is not a base64 PNG; no icon shown")
            icon = ""

    env_prefix = ns + "env."
    env = []
    for key in sorted(labels):
        if key.startswith(env_prefix):
            kebab = key[len(env_prefix) :]
            if _KEBAB_RE.match(kebab):
                env.append(kebab)
            else:
                problems.append(f"env label {kebab!r} is not kebab-case; ignored")

    configurables = [cls() for cls in CONFIGURABLES if set(cls.env_keys) & set(env)]
    if problems:
        log.warning("image %s: %s", name, "; ".join(problems))
    return Image(
        name=name,
        ui_name=ui_name,
        description=description,
        icon_128=icon,
        type=app_type,
        env=env,
        configurables=configurables,
        problems=problems,
        labelled=is_remoteapp_image(labels, namespace),
    )
