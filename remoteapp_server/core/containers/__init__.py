"""Application containers on a docker engine."""

from .docker import AsyncDocker, DockerEngineError
from .manager import ContainerManager
from .model import Container
from .naming import escape_name
from .options import PULL_POLICIES, ContainerOptions
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
