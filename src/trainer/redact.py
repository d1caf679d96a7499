"""Keep credentials out of everything a run writes: params, tags, logs, config files, checkpoints."""

from __future__ import annotations

import re
from typing import Any

# scheme://user:secret@host -> scheme://user:***@host (postgresql://, http://, mysql+pymysql://, ...)
# The secret may hold '/': SQLAlchemy reads everything up to the '@' as the password, and
# generated (base64) passwords often contain '/'.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<secret>[^@\s]+)@")
# ?password=...&token=... in query strings and key=value command lines.
_QUERY_SECRET = re.compile(
    r"(?P<key>(?:password|passwd|pwd|token|secret|api_key|apikey|access_key)=)(?P<value>[^&\s]+)",
    re.IGNORECASE,
)
# password: x / db.password=x / api_token: x in config files and overrides (key names with a
# secret word in them; a harmless over-mask of e.g. max_tokens is the price of never leaking).
_KEYED_SECRET = re.compile(
    r"(?P<key>\b[\w.\-]*(?:password|passwd|secret|token|api_key|apikey|access_key)[\w\-]*"
    r"(?:\s*:\s*|=))(?P<value>(?!\*\*\*)[^\s,&'\"}\]]+)",
    re.IGNORECASE,
)
MASK = "***"


def redact(text: str) -> str:
    """``text`` with passwords in URIs and secret query parameters replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m['key']}{MASK}", text)
    return _KEYED_SECRET.sub(lambda m: f"{m['key']}{MASK}", text)


def _is_secret_key(key: Any) -> bool:
    return bool(re.search(r"password|passwd|secret|token|api_key|apikey|access_key", str(key), re.IGNORECASE))


def redact_tree(value: Any) -> Any:
    """Redact every string inside nested dicts, lists and tuples (other values pass through)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: MASK if _is_secret_key(key) and item is not None else redact_tree(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_tree(item) for item in value)
    return value


def describe_error(exc: BaseException, limit: int = 200) -> str:
    """First line of an error's message for a log line, credentials masked.

    MLflow's HTTP errors quote the full tracking URI, password included ("API request to
    http://user:secret@host/... failed"); these lines end up in train.log and on the console.
    """
    lines = redact(str(exc)).splitlines()  # redact first: a cut could split a URI and defeat it
    return lines[0][:limit] if lines else type(exc).__name__
