"""Command-line words before click sees them, and click's own errors rendered as smx's.

Global options (``--env``, ``-q``, ``-v``, ``--debug``) belong to ``smx`` itself, yet people
type them where they think of them: ``smx status --env ~/sd``, ``smx sync -q``. As in uv, they
are accepted after the command too: such words are moved in front of the command, unless the
command has an option of that name, or they come after ``--`` (words for a web UI). The other
way round, a flag of the command typed before it (``smx --json status``) is moved after it.

A parser error (an unknown option, a missing argument, a bad value) is reported like every
other error: one ``error:`` line and a hint, exit code 2, or the JSON envelope when ``--json``
was typed, even though click stopped before it could read that flag.
"""

from __future__ import annotations

import re
from typing import Any

GLOBAL_FLAGS = ("-q", "--quiet", "--debug", "--verbose")
GLOBAL_VALUED = ("--env",)
_VERBOSE = re.compile(r"^-v+$")


def _is_global(word: str) -> bool:
    name = word.split("=", 1)[0]
    return word in GLOBAL_FLAGS or bool(_VERBOSE.match(word)) or name in GLOBAL_VALUED


def _options_of(command: Any) -> dict[str, bool]:
    """Option name -> whether it takes a value, for one click command."""
    found: dict[str, bool] = {}
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") != "option":
            continue
        takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
        for name in (*param.opts, *param.secondary_opts):
            found[name] = takes_value
    return found


def hoist_global_options(group: Any, ctx: Any, args: list[str]) -> list[str]:
    """``smx status --env DIR -q`` -> ``smx --env DIR -q status``."""
    root_options = _options_of(group)
    start = 0
    while start < len(args):  # skip what already stands before the command
        word = args[start]
        if word == "--" or not word.startswith("-"):
            break
        takes_value = root_options.get(word, False)
        start += 2 if takes_value else 1
    if start >= len(args) or args[start] == "--":
        return args
    head, rest = list(args[:start]), args[start:]
    command: Any = group.get_command(ctx, rest[0]) if hasattr(group, "get_command") else None
    if command is None:
        return args
    # `smx --json status`: a flag of the command typed before it goes after it
    early = [w for w in head if w.startswith("--") and w not in root_options
             and "=" not in w]
    head = [w for w in head if w not in early]
    own = _options_of(command)
    kept, moved = [rest[0]], []
    i = 1
    while i < len(rest):
        word = rest[i]
        if word == "--":
            kept += rest[i:]
            break
        if hasattr(command, "get_command") and not word.startswith("-"):
            sub = command.get_command(ctx, word)
            if sub is not None:  # `smx model list`: the subcommand's options count from here
                command = sub
                own = {**own, **_options_of(sub)}
                kept.append(word)
                i += 1
                continue
        name = word.split("=", 1)[0]
        if name in own:
            take = 2 if own[name] and "=" not in word else 1
            kept += rest[i:i + take]
            i += take
            continue
        if _is_global(word):
            take = 2 if name in GLOBAL_VALUED and "=" not in word else 1
            moved += rest[i:i + take]
            i += take
            continue
        kept.append(word)
        i += 1
    known_early = [w for w in early if own.get(w) is False]
    if len(known_early) != len(early):
        return args  # not the command's flags either: let the parser say so, as typed
    cut = kept.index("--") if "--" in kept else len(kept)
    return head + moved + kept[:cut] + known_early + kept[cut:]


def wants_json(args: list[str]) -> bool:
    """Was ``--json`` typed (before any ``--``)? Used when parsing failed before it was read."""
    for word in args:
        if word == "--":
            return False
        if word == "--json":
            return True
    return False


_SUGGESTION = re.compile(r"^(.*?)\.?\s*(Did you mean .*|\(Possible options: (.*)\))$", re.DOTALL)


def usage_error(exc: Any) -> tuple[str, str, str]:
    """(command, message, hint) for a click UsageError, in smx's words: ("model pull",
    "no such option: --nmae", "did you mean --name?")."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "smx"
    command = path.split(" ", 1)[1] if " " in path else ""
    message = exc.format_message().strip()
    hint = f"`{path} --help` shows what it takes"
    match = _SUGGESTION.match(message)
    if match:
        message = match.group(1)
        hint = (f"possible options: {match.group(3)}" if match.group(3)
                else _lower_first(match.group(2)))
    return command, _lower_first(message).rstrip("."), hint


def _lower_first(text: str) -> str:
    """"No such option" -> "no such option"; "URL ..." stays."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text
