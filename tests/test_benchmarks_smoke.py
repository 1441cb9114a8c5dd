"""The benchmarks keep working: ``benchmarks/run.py --quick`` (tiny sizes, one repeat) runs
every benchmark against a real server and real containers, writes its tables, and leaves
no container behind. The numbers of such a run mean nothing; benchmarks/results.md holds
the measured ones."""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NAMESPACE

ROOT = Path(__file__).resolve().parent.parent

TABLES = (
    "1. Start latency",
    "2. HTTP proxy to the demo web app",
    "2b. HTTP proxy to an upstream with keep-alive",
    "3. WebSocket proxy",
    "4. REST API at scale",
    "4b. The accounting calls behind the admin lists",
    "5. Concurrency",
)


@pytest.mark.docker
def test_quick_benchmark_run(docker_client, tmp_path):
    run_id = f"smoke{secrets.token_hex(3)}"
    output = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--silent"]
        + ["--only", "start,http,ws,api,concurrency"]  # hub: test below
        + ["--run-id", run_id, "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = output.read_text()
    titles = re.findall(r"^### (.+)$", text, re.MULTILINE)
    assert [t for t in TABLES if not any(title.startswith(t) for title in titles)] == []
    assert "failed" not in " ".join(titles)
    has_jsp = importlib.util.find_spec("jupyter_server_proxy") is not None
    assert ("| jupyter-server-proxy |" in text) == has_jsp
    # every start answered 201, every duplicate a clear 409
    assert re.search(r"\| 4 starts \| .* \| 4× 201, 2× 409 \| 0 \|", text), text
    left = docker_client.containers.list(
        all=True, filters={"label": f"{NAMESPACE}runinfo.realm=remoteapp-bench-{run_id}"}
    )
    left += docker_client.containers.list(
        all=True, filters={"label": f"remoteapp.bench.run={run_id}"}
    )
    assert left == []


@pytest.mark.docker
@pytest.mark.hub
@pytest.mark.slow
def test_quick_hub_benchmark_run(docker_client, tmp_path):
    """``--quick --only hub``: a real Hub, CHP, the service (and a second one with two
    workers), a single-user server on the old revision's code; every path of the table is
    measured, and nothing is left behind."""
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a system user and spawns its server")
    if shutil.which("npm") is None and not (ROOT / ".hub").exists():
        pytest.skip("needs npm for configurable-http-proxy")
    run_id = f"smoke{secrets.token_hex(3)}"
    output = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--silent"]
        + ["--only", "hub", "--run-id", run_id, "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = output.read_text()
    titles = re.findall(r"^### (.+)$", text, re.MULTILINE)
    assert [t for t in titles if t.startswith("6. Hub mode")], titles
    assert "not measured" not in text, text
    header = next(line for line in text.splitlines() if line.startswith("| metric |"))
    for path in ("(a) floor", "(b) old", "(c) new", "(d) new", "(d×2) new"):
        assert path in header, header
    assert re.search(r"\| 3 sessions: p99 frame delay \(ms\) \| [\d.]+ \|", text), text
    left = docker_client.containers.list(
        all=True, filters={"label": f"{NAMESPACE}runinfo.realm=remoteapp-bench-{run_id}"}
    )
    assert left == []
    assert subprocess.run(["id", f"rb{run_id}"], capture_output=True).returncode != 0
