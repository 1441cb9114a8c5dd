"""Fuzzing the REST API with schemathesis against the shipped OpenAPI description.

A real Jupyter server (a subprocess, with the fake JupyterHub identities of
``fake_hub``: an admin and a non-admin token), a real SQLite accounting and real docker
containers. Schemathesis generates requests from ``remoteapp_server/openapi.yaml``
(valid and invalid ones: examples, coverage of boundaries and types, random fuzzing)
and checks every answer: no 5xx, only documented status codes, headers and content
types, bodies valid against the schemas, schema-valid requests accepted and invalid
ones rejected, undeclared methods a 405 with ``Allow``, and without a token a 403 that
says so. Valid cases also name the users, grants, images and containers that exist, so
the fuzzer starts, lists, reads the logs of and stops real containers, and creates and
removes real users, applications and grants (as the admin).

The run is derandomized (fixed seed, nothing learnt from the answers), so CI sends the
same requests every time. A failure lists each distinct problem once with a curl
command that reproduces it. The tests after the fuzzing pin what it found.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from api_helpers import Api, spec
from conftest import NAMESPACE, REALM, WEBAPP, server_config
from fake_hub import FakeHubIdentityProvider
from hub_helpers import free_port
from hypothesis import strategies as st
from schemathesis.engine import events, from_schema

from remoteapp_server.core.accounting import Policy, open_accounting
from remoteapp_server.core.accounting.base import _IMAGE_RE, MAX_IMAGE_REFERENCE
from remoteapp_server.handlers.base import MAX_QUERY_INT, UNAUTHENTICATED

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SEED = 7_2026
SPEC = Path(str(files("remoteapp_server").joinpath("openapi.yaml")))
TESTS = Path(__file__).resolve().parent
#: containers the fuzzer starts carry their own realm; the fixture removes them
FUZZ_REALM = f"{REALM}-fuzz"
#: generated cases per operation in the random phase (the coverage phase adds its own)
MAX_EXAMPLES = 15
TOKENS = {"alice": "alice-token", "bob": "bob-token"}  # fake_hub: alice is admin, bob not


@dataclass
class FuzzServer:
    url: str
    api: str
    #: what exists, so that generated requests also hit real resources
    known: dict[str, list[str]] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {TOKENS[who]}"}
        return requests.request(method, f"{self.api}/{path}", headers=headers, timeout=60, **kwargs)


def _remove_fuzz_containers(docker_client) -> None:
    for container in docker_client.containers.list(
        all=True, filters={"label": f"{NAMESPACE}runinfo.realm={FUZZ_REALM}"}
    ):
        container.remove(force=True)


@pytest.fixture
def fuzz_server(tmp_path, docker_client, derived_image) -> Iterator[FuzzServer]:
    """A server whose accounting has alice (group staff) and bob, the demo web app
    granted to bob and to the group staff, a running container of it for each, and a
    second web app granted to bob."""
    accounting_file = tmp_path / "accounting.sqlite"
    accounting = open_accounting(str(accounting_file))
    for name in ("alice", "bob"):
        accounting.create_user(name)
    # one running container per image and user: this second one is the fuzzer's to start
    other = derived_image('LABEL org.example.fuzz="second web app"')
    for image in (WEBAPP, other):
        accounting.create_application(image)
    bobs = accounting.grant(WEBAPP, Policy(), user="bob")
    bobs_other = accounting.grant(other, Policy(), user="bob")
    staffs = accounting.grant(WEBAPP, Policy(allow_startup_data=True), group="staff")
    getattr(accounting, "close", lambda: None)()

    port = free_port()
    config = tmp_path / "jupyter_server_config.py"
    config.write_text(
        textwrap.dedent(
            f"""
            c.ServerApp.ip = "127.0.0.1"
            c.ServerApp.port = {port}
            c.ServerApp.port_retries = 0
            c.ServerApp.open_browser = False
            c.ServerApp.allow_root = True
            c.ServerApp.root_dir = {str(tmp_path)!r}
            c.ServerApp.jpserver_extensions = {{
                "remoteapp_server": True, "jupyterlab": False, "jupyter_lsp": False,
                "jupyter_server_terminals": False, "notebook_shim": False,
            }}
            c.ServerApp.identity_provider_class = "fake_hub.FakeHubIdentityProvider"
            c.RemoteApp.accounting_url = {str(accounting_file)!r}
            c.RemoteApp.realm = {FUZZ_REALM!r}
            c.RemoteApp.start_timeout = 30
            c.RemoteApp.stop_timeout = 1
            """
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={config}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    server = FuzzServer(url=base, api=f"{base}/remoteapp/api")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if server.call("GET", "me", "alice").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        url_ids = []
        for who, grant in (("bob", bobs), ("alice", staffs)):
            answer = server.call("POST", "containers", who, json={"mapping_id": grant.mapping_id})
            assert answer.status_code == 201, answer.text
            url_ids.append(answer.json()["url_id"])
        server.known = {
            "url_id": url_ids,
            "mapping_id": [bobs.mapping_id, bobs_other.mapping_id, staffs.mapping_id],
            "name": ["alice", "bob"],
            "user": ["alice", "bob"],
            "image": [WEBAPP, other],
        }
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        _remove_fuzz_containers(docker_client)


# ---------------------------------------------------------------------------- the run
@schemathesis.check
def unauthenticated_calls_are_refused(ctx, response, case) -> None:
    """Without the Authorization header: 403 with a message that says why.

    In place of schemathesis's ``missing_required_header``, which wants 401; the
    description says 403, as Jupyter Server's and JupyterHub's own APIs answer.
    """
    if "Authorization" in response.request.headers:
        return
    expected = {"status": 403, "message": UNAUTHENTICATED}
    body = response.json() if response.status_code == 403 else None
    if body != expected:
        raise AssertionError(f"expected 403 {expected} without a token")


@dataclass
class Problem:
    operation: str
    check: str
    title: str
    message: str
    curl: str
    status: int | None
    body: str
    count: int = 1


@dataclass
class FuzzResult:
    cases: int = 0
    #: operation → the status codes it answered
    statuses: dict[str, set[int]] = field(default_factory=dict)
    problems: dict[tuple[str, str, str], Problem] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def summary(self, who: str) -> str:
        lines = [
            f"schemathesis as {who}: {self.cases} requests, {len(self.problems)} distinct "
            f"problem(s), {len(self.errors)} error(s)"
        ]
        for problem in self.problems.values():
            lines += [
                "",
                f"* {problem.operation}: {problem.title} [{problem.check}] ×{problem.count}",
                textwrap.indent(problem.message.strip(), "    ") if problem.message else "",
                f"    answered {problem.status}: {problem.body[:300]}",
                f"    {problem.curl}",
            ]
        lines += [f"! {error}" for error in self.errors]
        return "\n".join(line for line in lines if line != "")


def mix_in_known_values(schema, known: dict[str, list[str]]) -> None:
    """Random strings rarely name anything that exists: positive cases also try names,
    url ids and mapping ids that do, so that generated requests reach real resources."""
    from schemathesis import GenerationMode

    def with_known(case, chosen: dict[str, str]):
        for values in (case.path_parameters, case.query):
            if values:
                values.update({name: chosen[name] for name in values if name in chosen})
        if isinstance(case.body, dict):
            case.body.update({name: chosen[name] for name in case.body if name in chosen})
            if "mapping_id" in case.body:
                # which configurables are valid depends on the application (the demo
                # web app has none): the description cannot say
                case.body.pop("configurables", None)
        return case

    @schema.hook
    def flatmap_case(context, case):
        if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
            return st.just(case)  # never turn an invalid request into a valid one
        real = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in known})
        return st.one_of(st.just(case), real.map(lambda chosen: with_known(case, chosen)))


def fuzz(server: FuzzServer, who: str) -> FuzzResult:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": server.api,
            "headers": {"Authorization": f"token {TOKENS[who]}"},
            "request-timeout": 60,
            "generation": {
                "deterministic": True,
                "max-examples": MAX_EXAMPLES,
                "database": "none",
            },
            # the same requests on every run: nothing learnt from answers, which differ
            # (random ids; the images other tests build on the shared docker engine)
            "phases": {
                "examples": {"extra-data-sources": {"responses": False}},
                "coverage": {"extra-data-sources": {"responses": False}},
                "fuzzing": {
                    "extra-data-sources": {"responses": False},
                    "error-feedback": {"enabled": False},
                },
                "stateful": {"enabled": False},
            },
            # it insists on 401: see unauthenticated_calls_are_refused
            "checks": {"missing_required_header": {"enabled": False}},
        }
    )
    schema = schemathesis.openapi.from_path(SPEC, config=config)
    mix_in_known_values(schema, server.known)
    result = FuzzResult()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            result.cases += len(recorder.interactions)
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    answered = result.statuses.setdefault(recorder.label, set())
                    answered.add(interaction.response.status_code)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    info = check.failure_info
                    if info is None:
                        continue
                    failure = info.failure
                    key = (recorder.label, check.name, failure.title)
                    if key in result.problems:
                        result.problems[key].count += 1
                        continue
                    response = recorder.find_response(case_id=case_id)
                    result.problems[key] = Problem(
                        operation=recorder.label,
                        check=check.name,
                        title=failure.title,
                        message=failure.message,
                        curl=info.code_sample.replace(TOKENS[who], "<token>"),
                        status=None if response is None else response.status_code,
                        body="" if response is None else response.text,
                    )
        elif isinstance(event, events.NonFatalError):
            result.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            result.errors.append(f"fatal: {event.exception!r}")
    return result


#: what each caller must have done successfully (2xx) at least once: the fuzzer reached
#: real resources, not only refusals. bob is no admin; alice's own container is left to
#: bob's run (she stops it as an admin early on)
MUST_SUCCEED = {
    "bob": lambda label: "/admin/" not in label,
    "alice": lambda label: "/admin/" in label or label in ("GET /me", "GET /applications"),
}


@pytest.mark.parametrize("who", ["bob", "alice"])
def test_generated_requests_get_documented_answers(fuzz_server, who):
    """bob (no admin) first, then alice (admin), each on a fresh server."""
    result = fuzz(fuzz_server, who)
    print(result.summary(who))
    for label, codes in sorted(result.statuses.items()):
        print(f"  {label}: {sorted(codes)}")
    assert not result.problems and not result.errors, result.summary(who)
    assert result.cases >= 500, result.summary(who)
    never = [
        label
        for label, codes in sorted(result.statuses.items())
        if MUST_SUCCEED[who](label) and not any(200 <= code < 300 for code in codes)
    ]
    assert not never, f"never answered 2xx to {who}: {never}"
    assert len(result.statuses) == 21, sorted(result.statuses)  # every operation was tried


# ---------------------------------------------------- what the fuzzer found, pinned
@pytest.fixture
def jp_server_config(tmp_path):
    return server_config(
        tmp_path / "remoteapp.sqlite", identity_provider_class=FakeHubIdentityProvider
    )


@pytest.fixture
def as_user(jp_serverapp, http_server_client, jp_base_url, docker_client):
    def api(token: str | None) -> Api:
        headers = {"Authorization": f"token {token}"} if token else {}
        return Api(http_server_client, jp_base_url, headers)

    return api


async def test_unauthenticated_calls_are_told_why(as_user):
    """Not tornado's "Forbidden" or "'_xsrf' argument missing from POST" (on a DELETE)."""
    for token in (None, "forged-token"):
        caller = as_user(token)
        for method, path, body in (
            ("GET", "me", None),
            ("POST", "admin/users", {"name": "mallory"}),
            ("DELETE", "containers/0123", None),
        ):
            answer = await caller.call(method, path, body)
            assert answer == (403, {"status": 403, "message": UNAUTHENTICATED}), (method, token)
    code, users = await as_user("alice-token").get("admin/users")
    assert users["total"] == 0  # and nothing was created


async def test_an_unsupported_method_says_which_are(as_user, http_server_client):
    for path, allowed in (
        ("admin/users", "GET, POST, OPTIONS"),
        ("containers/0123", "GET, DELETE, OPTIONS"),
    ):
        for method in ("PUT", "PATCH"):
            response = await http_server_client.fetch(
                as_user("alice-token").url(path),
                method=method,
                body=b"{}",
                headers={"Authorization": "token alice-token"},
                raise_error=False,
            )
            assert response.code == 405, (method, path)
            assert response.headers["Allow"] == allowed
            assert json.loads(response.body) == {"status": 405, "message": "Method Not Allowed"}


async def test_query_integers_that_do_not_fit_are_refused(as_user):
    """2**70 used to overflow SQLite (500); an empty value used to mean "no limit"."""
    alice = as_user("alice-token")
    for query, message in (
        (f"offset={2**70}", f"offset must be at most {MAX_QUERY_INT}"),
        (f"limit={-(2**64)}", "limit must be at most"),
        ("limit=", "limit must be an integer, not ''"),
    ):
        for path in ("admin/users", "admin/grants", "admin/containers"):
            code, answer = await alice.get(f"{path}?{query}")
            assert code == 400 and message in answer["message"], (path, query, answer)
    code, page = await alice.get(f"admin/users?offset={MAX_QUERY_INT}&limit={MAX_QUERY_INT}")
    assert (code, page["items"], page["offset"]) == (200, [], MAX_QUERY_INT)
    code, answer = await as_user("bob-token").get(f"containers/0123/logs?tail={10**30}")
    assert code == 400 and "tail must be at most" in answer["message"]


async def test_grant_bodies_of_the_wrong_shape_are_refused(as_user):
    """Each used to be a 500 or to be taken for an empty value; nothing is granted."""
    alice = as_user("alice-token")
    assert (await alice.post("admin/users", {"name": "bob"}))[0] == 201
    assert (await alice.post("admin/applications", {"image": WEBAPP}))[0] == 201
    grant = {"image": WEBAPP, "user": "bob"}
    for body, message in (
        ({**grant, "policy": {"app_license": {}}}, "policy.app_license must be text"),
        ({**grant, "policy": {"volume": None}}, "policy.volume must be text"),
        ({**grant, "policy": None}, "policy must be an object"),
        ({**grant, "policy": []}, "policy must be an object"),
        (
            {**grant, "policy": {"volume": "/srv/d:/mnt/d:ro", "volume_source": "/srv/e"}},
            "policy.volume replaces volume_source: give one or the other",
        ),
        ({"image": WEBAPP, "group": "staff", "user": None}, "user must be text"),
    ):
        code, answer = await alice.post("admin/grants", body)
        assert (code, answer["message"]) == (400, message), body
    code, grants = await alice.get("admin/grants")
    assert grants["total"] == 0
    code, granted = await alice.post("admin/grants", {**grant, "policy": {"volume": "/d:/m:ro"}})
    assert code == 201 and granted["policy"]["volume_target"] == "/m"


async def test_image_names_docker_cannot_parse_are_refused(as_user):
    """The fuzzer registered names that docker answers "invalid reference format" to
    (an unknown digest algorithm, a non-ASCII tag); docker's own grammar now decides."""
    alice = as_user("alice-token")
    digest = "@sha256:" + "0123456789abcdef" * 4
    for image in (
        "b6/x:tag@L6+T.lXhq:802bDb9F4EFcb5448e276C01C74cE380",  # not an algorithm docker has
        f"remoteapp-test/x{digest.upper()}",  # upper-case hex
        "remoteapp-test/x:é",  # docker's tags are ASCII
        "-registry/x",  # not a domain, not a path
        f" {WEBAPP}",  # no silent trimming
        "remoteapp-test/" + "x" * 250,  # docker's limit is 255 characters
    ):
        code, answer = await alice.post("admin/applications", {"image": image})
        assert (code, answer["message"]) == (400, f"invalid docker image name: {image!r}")
    assert (await alice.get("admin/applications"))[1]["total"] == 0
    described = spec()["components"]["schemas"]["ImageName"]  # the same rule
    assert described["pattern"] == f"^{_IMAGE_RE.pattern}$"
    assert described["maxLength"] == MAX_IMAGE_REFERENCE
    for image in (f"remoteapp-test/missing:1{digest}", "Registry.Example.org:5000/x/y:T_1"):
        # docker parses these: it just does not have them
        code, answer = await alice.post("admin/applications", {"image": image, "verify": True})
        assert code == 404, answer
        code, answer = await alice.post("admin/applications", {"image": image})
        assert code == 201, answer
