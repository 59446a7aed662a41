"""Names from the filesystem, labels and flags are data: shown escaped, hashed as bytes.

Torch-free and Textual-free, so the CLI, eval and the explorer share one rule.

- :func:`safe_name` turns any name (``str`` with lone surrogates from undecodable bytes, ``bytes``
  or a path) into printable text: control and format characters (ESC, BEL, C1 controls, bidi
  overrides, zero-width characters) become ``\\x1b`` / ``\\u202e`` escapes and undecodable bytes
  become ``\\xff``, so no name can move the cursor, recolour, retitle the terminal or write the
  clipboard (OSC 52), and the result is valid UTF-8 of predictable width.
- :func:`name_bytes` gives the raw bytes a filesystem name stands for (stable seeds, hashing).
- :func:`json_safe` applies :func:`safe_name` to every string of a JSON-like object (every
  JSON file and line advtui writes goes through it).
"""

from __future__ import annotations

import os
import unicodedata

__all__ = ["json_safe", "name_bytes", "safe_name"]

# Unicode categories that must never reach a terminal as themselves: controls (Cc), format
# characters (Cf: bidi overrides, zero-width joiners), line/paragraph separators, unassigned.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co"})


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode's surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:  # any other lone surrogate
        return f"\\u{code:04x}"
    if code < 0x100 and unicodedata.category(ch) in _UNSAFE_CATEGORIES:
        return f"\\x{code:02x}"
    if unicodedata.category(ch) in _UNSAFE_CATEGORIES:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def safe_name(name: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """``name`` as printable, valid UTF-8 text with every unsafe character escaped."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    return "".join(_escape_char(ch) if not ch.isprintable() else ch for ch in name)


def name_bytes(name: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> bytes:
    """The raw bytes of a filesystem name (``os.fsencode``): stable for any name a filesystem
    allows, including ones that are not valid UTF-8."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    return name if isinstance(name, bytes) else os.fsencode(name)


def json_safe(obj):
    """``obj`` (JSON-like: dicts, lists, tuples, scalars) with every string passed through
    :func:`safe_name`, so ``json.dumps`` never writes a lone surrogate (an undecodable file-name
    byte) or a control character: the output is valid UTF-8 and safe to print."""
    if isinstance(obj, str):
        return obj if obj.isprintable() else safe_name(obj)
    if isinstance(obj, dict):
        return {json_safe(k) if isinstance(k, str) else k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj
