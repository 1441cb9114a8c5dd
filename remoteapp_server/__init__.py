"""remoteapp: dockerized desktop (VNC) and web applications in JupyterLab tabs."""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0.dev0"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "remoteapp"}]


def _jupyter_server_extension_points():
    from .extension import RemoteAppExtension

    return [{"module": "remoteapp_server", "app": RemoteAppExtension}]
