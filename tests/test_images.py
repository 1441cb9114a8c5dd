"""The image label protocol and the configurables, without docker."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from remoteapp_server.core.accounting import Policy
from remoteapp_server.core.errors import BadRequest
from remoteapp_server.core.images import (
    Resolution,
    env_var_name,
    image_from_labels,
    is_remoteapp_image,
)

NS = "eu.simphony-project.docker."


def tiny_png() -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00\xff\x00\x00"
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(png).decode()


def test_a_simphony_remote_image_is_read_completely():
    icon = tiny_png()
    image = image_from_labels(
        "org/paraview:5",
        {
            NS + "ui_name": "ParaView",
            NS + "description": "Visualisation",
            NS + "icon_128": icon,
            NS + "type": "vncapp",
            NS + "env.x11-width": "",
            NS + "env.x11-height": "",
            NS + "env.x11-depth": "",
            NS + "env.startupdata": "",
            NS + "env.my-option": "",
            "unrelated": "x",
        },
    )
    assert (image.ui_name, image.description, image.icon_128, image.type) == (
        "ParaView",
        "Visualisation",
        icon,
        "vncapp",
    )
    assert image.env == ["my-option", "startupdata", "x11-depth", "x11-height", "x11-width"]
    assert [c.tag for c in image.configurables] == ["resolution", "startupdata"]
    assert image.problems == [] and image.labelled
    described = image.to_dict()
    assert described["configurables"][0]["default"] == Resolution.DEFAULT
    assert env_var_name("my-option") == "MY_OPTION"


def test_defaults_when_labels_are_missing():
    image = image_from_labels("plain:latest", {})
    assert image.ui_name == "plain:latest" and image.type == "vncapp"
    assert image.configurables == [] and not image.labelled
    assert not is_remoteapp_image({})
    assert is_remoteapp_image({NS + "type": "webapp"})


@pytest.mark.parametrize(
    "icon",
    [
        "%%%not-base64",
        base64.b64encode(b"GIF89a....").decode(),
        base64.b64encode(b"<svg onload=alert(1)>").decode(),
        "A" * 400_000,
    ],
)
def test_icons_that_are_not_png_are_dropped(icon):
    image = image_from_labels("x:1", {NS + "ui_name": "X", NS + "icon_128": icon})
    assert image.icon_128 == ""
    assert any("icon_128" in p for p in image.problems)


def test_a_custom_namespace():
    image = image_from_labels("x:1", {"org.example.ui_name": "Mine"}, namespace="org.example.")
    assert image.ui_name == "Mine"
    assert image_from_labels("x:1", {"org.example.ui_name": "Mine"}).ui_name == "x:1"


def test_resolution_values():
    assert Resolution.parse("1920x1080") == (1920, 1080, 24)
    assert Resolution.parse(" 800 X 600 x16 ") == (800, 600, 16)
    for bad in ("", "800", "800x", "-800x600", "800x600x24x1", "1e3x600", None, [800, 600]):
        with pytest.raises(BadRequest):
            Resolution.parse(bad)
    for out_of_range in ("319x600", "800x199", "7681x600", "800x4321"):
        with pytest.raises(BadRequest, match="out of range"):
            Resolution.parse(out_of_range)


def test_configurables_become_environment_variables():
    labels = {NS + "ui_name": "X", NS + "env.x11-width": "", NS + "env.startupdata": ""}
    image = image_from_labels("x:1", labels)
    allowed = Policy(allow_startup_data=True)
    assert image.configurables_env({"resolution": "800x600"}) == {
        "X11_WIDTH": "800",
        "X11_HEIGHT": "600",
        "X11_DEPTH": "24",
    }
    env = image.configurables_env({"startupdata": "data/run.json"}, allowed)
    assert env["STARTUPDATA"] == "data/run.json"
    assert env["X11_WIDTH"] == "1280"  # the default resolution applies when not chosen
    with pytest.raises(BadRequest, match="not allowed by the policy"):
        image.configurables_env({"startupdata": "data/run.json"}, Policy())
    for path in ("/etc/passwd", "../x", "a/../../x", "a\nb", "x" * 5000, 7):
        with pytest.raises(BadRequest):
            image.configurables_env({"startupdata": path}, allowed)
    with pytest.raises(BadRequest, match="unknown configurable"):
        image.configurables_env({"colour": "blue"})
    with pytest.raises(BadRequest, match="must be an object"):
        image.configurables_env(["resolution"])
