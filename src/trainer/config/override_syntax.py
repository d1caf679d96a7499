"""Say which command-line override Hydra's grammar cannot read, and how to write it so that it can.

Hydra reads an override's value with a grammar of its own: ``;``, ``#``, ``=``, brackets, braces,
parentheses and quotes are syntax there, and its error names a lexer state
(``LexerNoViableAltException: data.source.sep=;``), not the fix. Every command (and a sweep's
``-m`` grid) asks :func:`explain_unparsable` for one line instead.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

#: Hydra's own words for "this override is not valid syntax".
PARSE_ERROR_MARKERS = (
    "LexerNoViableAltException",
    "Error parsing override",
    "mismatched input",
    "no viable alternative",
    "extraneous input",
    "token recognition error",
)


def is_parse_error(text: str) -> bool:
    """Whether a Hydra error text says an override could not be parsed."""
    return any(marker in text for marker in PARSE_ERROR_MARKERS)


def explain_unparsable(overrides: Sequence[str]) -> str | None:
    """One line naming the first override Hydra cannot parse and the way to write it; None if all parse.

    Args:
        overrides: the overrides as the command line gave them.
    """
    for override in overrides:
        if _parses(override):
            continue
        key, equals, value = override.partition("=")
        if not equals or not key.strip():
            return (
                f"{override!r} is not an override: write key=value (optimizer.lr=3e-4), "
                "group=option (data=csv), +key=value to add a key or ~key to remove one."
            )
        closed = f"{key}={value}{_closing(value)}"
        if value[:1] in "[{" and closed != override and _parses(closed):
            return (
                f"Could not parse {override!r}: the {'list' if value[0] == '[' else 'dict'} is not "
                f"closed (key=value, a list as key=[a,b]); write it as {shlex.quote(closed)}."
            )
        quoted = key + '="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        special = "".join(c for c in dict.fromkeys(value) if not _parses(f"k=a{c}b"))
        which = f"{' and '.join(repr(c) for c in special)} {'is' if len(special) == 1 else 'are'}"
        which = which if special else "its value is"
        if _parses(quoted):
            return (
                f"Could not parse {override!r}: {which} Hydra syntax in an override's value. Put the "
                f"value in double quotes, and the whole override in single quotes for the shell: "
                f"{shlex.quote(quoted)}."
            )
        return (
            f"Could not parse {override!r}: in an override's value{which or ' the text is'} Hydra "
            "syntax; write each override as key=value, with a value holding ; # = ( ) [ ] { } or "
            "quotes in double quotes (see https://hydra.cc/docs/advanced/override_grammar/basic/)."
        )
    return None


def _parses(override: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        OverridesParser.create().parse_overrides([override])
    except OverrideParseException:
        return False
    return True


def _closing(value: str) -> str:
    """The brackets that would close ``value``'s open lists and dicts, innermost first."""
    pairs = {"[": "]", "{": "}"}
    stack: list[str] = []
    for char in value:
        if char in pairs:
            stack.append(pairs[char])
        elif stack and char == stack[-1]:
            stack.pop()
    return "".join(reversed(stack))
