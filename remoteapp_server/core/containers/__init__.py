"""Application containers on a docker engine."""

from .docker import AsyncDocker, DockerEngineError
from .manager import PULL_POLICIES, ContainerManager, ContainerOptions
from .model import Container
from .naming import escape_name
from .readiness import StartFailed

__all__ = [
    "PULL_POLICIES",
    "AsyncDocker",
    "Container",
    "ContainerManager",
    "ContainerOptions",
    "DockerEngineError",
    "StartFailed",
    "escape_name",
]
