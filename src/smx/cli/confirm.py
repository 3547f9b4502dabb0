"""The one rule for every confirmation smx asks for.

smx asks only a person at a terminal (stdin is one, and the output is not ``--json``). Without
one it never waits for an answer: it refuses with "…; confirm with --yes", exit code 2 (usage),
and changes nothing. A declined prompt (an answer other than yes, or Ctrl-D) is the user's
choice, not a failure: smx says that nothing changed and exits 0 (Ctrl-C or Ctrl-D at the
prompt decline too).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smx.cli.output import Output


def can_prompt(output: Output) -> bool:
    return sys.stdin.isatty() and not output.json_mode


def confirmed(output: Output, *, yes: bool, question: str, what: str, retry: str) -> bool:
    """True when the change may go ahead.

    ``what`` completes "…; confirm with --yes" (``"removing x deletes Data/Packages/x"``);
    ``retry`` is the same command with ``--yes``. False means the user declined (and was
    told that nothing changed): the caller stops and exits 0.
    """
    if yes:
        return True
    if not can_prompt(output):
        from smx.errors import ConfirmationNeeded

        raise ConfirmationNeeded(f"{what}; confirm with --yes", hint=retry)
    import click

    try:
        answer = click.confirm(question, default=False, err=True)
    except click.Abort:  # Ctrl-C or Ctrl-D at the prompt
        output.err_console.print()
        answer = False
    if not answer:
        output.info("nothing changed")
    return bool(answer)
