"""Calling the REST API of a pytest-jupyter server, checking every answer against the
shipped OpenAPI description."""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema
import yaml
from tornado.httpclient import HTTPResponse

from remoteapp_server.handlers.api import ROUTES


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(files("remoteapp_server").joinpath("openapi.yaml").read_text())


def spec_path(route: str) -> str:
    """``containers/(?P<url_id>[^/]+)`` → ``/containers/{url_id}``"""
    return "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)


def route_of(api_path: str) -> str:
    """The OpenAPI path that serves ``api_path`` (``containers/abc/logs`` → ...)."""
    for route, _ in ROUTES:
        if re.fullmatch(route, api_path):
            return spec_path(route)
    raise AssertionError(f"no route serves {api_path!r}")


def assert_conforms(method: str, api_path: str, response: HTTPResponse) -> Any:
    """Validate status and JSON body against the description; return the body."""
    operation = spec()["paths"][route_of(api_path)][method.lower()]
    responses = operation["responses"]
    described = responses.get(str(response.code)) or responses.get("default")
    assert described, f"{method} {api_path} answered {response.code}, which is not described"
    if "$ref" in described:
        described = spec()["components"]["responses"][described["$ref"].rsplit("/", 1)[1]]
    if response.code == 204:
        assert not response.body
        return None
    content_type = response.headers.get("Content-Type", "").split(";")[0]
    assert content_type in described.get("content", {}), (method, api_path, content_type)
    if content_type != "application/json":
        return response.body.decode()
    body = json.loads(response.body)
    schema = dict(described["content"][content_type]["schema"])
    schema["components"] = spec()["components"]
    jsonschema.Draft202012Validator(schema).validate(body)
    return body


class Api:
    """``await api.get("containers")`` → (status, body), validated against the spec."""

    def __init__(self, client, base_url: str, headers: dict[str, str]):
        self.client = client
        self.base_url = base_url
        self.headers = headers

    def url(self, path: str) -> str:
        return f"{self.base_url}remoteapp/api/{path}"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        **kwargs,
    ) -> tuple[int, Any]:
        if raw is None and body is not None:
            raw = json.dumps(body).encode()
        if raw is None and method in ("POST", "PUT", "PATCH"):
            raw = b""
        response = await self.client.fetch(
            self.url(path),
            method=method,
            body=raw,
            raise_error=False,
            headers={**self.headers, **(headers or {})},
            request_timeout=90,
            **kwargs,
        )
        return response.code, assert_conforms(method, path.split("?")[0], response)

    async def get(self, path: str, **kwargs):
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs):
        return await self.call("POST", path, body, **kwargs)

    async def delete(self, path: str, **kwargs):
        return await self.call("DELETE", path, **kwargs)


async def admin_state(admin: Api) -> dict[str, Any]:
    """Everything an admin sees (users, applications, grants, containers): compare it before
    and after a refused request to show that nothing changed."""
    state = {}
    for path in ("admin/users", "admin/applications", "admin/grants", "admin/containers"):
        code, page = await admin.get(path)  # a few items: one page
        assert code == 200, page
        state[path] = page["items"]
    return state
