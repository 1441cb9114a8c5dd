"""The hostile test app: a busybox web app (like images/webapp) whose page attacks the
JupyterLab that frames it — cookies, fetch, forms, framing, WebSockets — and writes what
happened into its own DOM (``tests/hostile/attack.js``); ``echo.cgi`` shows what of the
browser's request reached the app. Built locally from the demo web app, no registry."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

HOSTILE_IMAGE = "remoteapp-test/hostile-webapp:latest"
BASE_IMAGE = "remoteapp/demo-webapp:latest"
NAMESPACE = "eu.simphony-project.docker."
SOURCES = Path(__file__).resolve().parent / "hostile"
FILES = ("index.html", "attack.js", "echo.cgi", "remoteapp-hostile-start")
SOURCE_LABEL = "remoteapp.test.hostile-sha256"


def _dockerfile() -> str:
    return "\n".join(
        [
            f"FROM {BASE_IMAGE}",
            "USER 0:0",
            "COPY hostile /hostile",
            "RUN chmod 755 /hostile/remoteapp-hostile-start /hostile/echo.cgi",
            f'LABEL {NAMESPACE}ui_name="Hostile App" \\',
            f'      {NAMESPACE}description="Tries to act as its user on JupyterLab (test)" \\',
            f'      {NAMESPACE}type="webapp" \\',
            f'      {SOURCE_LABEL}="{source_hash()}"',
            "USER 65534:65534",
            'CMD ["/hostile/remoteapp-hostile-start"]',
            "",
        ]
    )


def source_hash() -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(name.encode() + b"\0" + (SOURCES / name).read_bytes())
    return digest.hexdigest()


def build_hostile_image(docker_client) -> str:
    """The image, built unless one of the same sources exists; its tag."""
    import docker

    try:
        image = docker_client.images.get(HOSTILE_IMAGE)
        if image.labels.get(SOURCE_LABEL) == source_hash():
            return HOSTILE_IMAGE
    except docker.errors.ImageNotFound:
        pass
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = _dockerfile().encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        for name in FILES:
            tar.add(SOURCES / name, arcname=f"hostile/{name}")
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=HOSTILE_IMAGE, rm=True)
    return HOSTILE_IMAGE


if __name__ == "__main__":
    import docker

    print(build_hostile_image(docker.from_env()))
