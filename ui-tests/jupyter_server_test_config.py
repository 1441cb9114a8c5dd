"""Server configuration for integration tests.

!! Never use this configuration in production because it
opens the server to the world and provides access to JupyterLab
JavaScript objects through the global window variable.

Each start gets a fresh accounting file where the OS user is granted the two
demo apps (``remoteapp/demo-webapp``, ``remoteapp/demo-vnc``), and the
containers run in the realm ``remoteapp-uitest`` (removed by the global
teardown of Playwright).

Environment:
- ``REMOTEAPP_UITEST_PORT``: the port (default 8888);
- ``REMOTEAPP_UITEST_ADMIN=0``: the OS user is not admin (``personal_admin``);
- ``REMOTEAPP_UITEST_USER``: the accounting user (``personal_user``, default the OS
  user): the non-admin server is another user, whose apps the admin can open.
"""

import getpass
import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

from remoteapp_server.core.accounting import Policy, open_accounting

configure_jupyter_server(c)  # noqa: F821

# The CI machines run as root.
c.ServerApp.allow_root = True  # noqa: F821
# app-tabs.spec.ts opens the Lab as lab.localhost (loopback for Chromium): a name
# with no second loopback name, so apps fall back to the Lab's origin (warned).
c.ServerApp.local_hostnames = ["localhost", "lab.localhost"]  # noqa: F821
c.ServerApp.port = int(os.environ.get("REMOTEAPP_UITEST_PORT", "8888"))  # noqa: F821

DEMO_IMAGES = ["remoteapp/demo-webapp:latest", "remoteapp/demo-vnc:latest"]

accounting_file = os.path.join(tempfile.mkdtemp(prefix="remoteapp-uitest-"), "accounting.sqlite")
accounting = open_accounting(accounting_file)
user = os.environ.get("REMOTEAPP_UITEST_USER") or getpass.getuser()
accounting.create_user(user)
for image in DEMO_IMAGES:
    accounting.create_application(image)
    accounting.grant(image, Policy(), user=user)
close = getattr(accounting, "close", None)
if close is not None:
    close()

c.RemoteApp.accounting_url = accounting_file  # noqa: F821
c.RemoteApp.realm = "remoteapp-uitest"  # noqa: F821
c.RemoteApp.start_timeout = 60.0  # noqa: F821
c.RemoteApp.personal_user = user  # noqa: F821
c.RemoteApp.personal_admin = os.environ.get("REMOTEAPP_UITEST_ADMIN", "1") != "0"  # noqa: F821

# Uncomment to set server log level to debug level
# c.ServerApp.log_level = "DEBUG"
