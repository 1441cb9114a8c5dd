"""Domain core of remoteapp: accounting, image labels, containers.

Nothing in here imports tornado: the web layer (``handlers``) maps the domain
errors of :mod:`remoteapp_server.core.errors` to HTTP responses.
"""
