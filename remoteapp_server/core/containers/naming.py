"""Safe docker names and labels for arbitrary user names."""

from __future__ import annotations

import string

_SAFE = frozenset(string.ascii_lowercase + string.digits)


def escape_name(name: str, escape_char: str = "-") -> str:
    """Escape any text into ``[a-z0-9-]``, injectively.

    Every character outside ``a-z0-9`` (upper case, ``@``, unicode, the escape char
    itself) becomes ``<escape_char><hex of each UTF-8 byte>``, as DockerSpawner does
    with escapism, so ``Alice`` and ``alice`` never share a container name.
    """
    out = []
    for char in name:
        if char in _SAFE:
            out.append(char)
        else:
            out.extend(f"{escape_char}{byte:02x}" for byte in char.encode("utf-8"))
    return "".join(out)
