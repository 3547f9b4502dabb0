"""The one place where errors become terminal output and exit codes."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from smx.errors import ExitCode, SmxError

if TYPE_CHECKING:
    from smx.cli.output import Output


def render_error(out: Output, exc: BaseException, command: str) -> int:
    """Show ``exc`` (one line, a hint, the traceback with --debug) and return its exit code:
    the class's for an SmxError, 130 for Ctrl-C, 70 for anything else (a bug)."""
    from smx.redact import redact

    if isinstance(exc, SmxError) and exc.reported:
        return exc.exit_code
    if isinstance(exc, SmxError):
        code, message, hint, ident = exc.exit_code, exc.message, exc.hint, exc.code
    elif isinstance(exc, KeyboardInterrupt):
        code, message, hint, ident = (ExitCode.INTERRUPTED, "interrupted",
                                      "run the same command again to finish", "interrupted")
    else:
        code, message, hint, ident = (ExitCode.INTERNAL,
                                      f"unexpected error: {type(exc).__name__}: {exc}",
                                      "run again with --debug for the traceback and report it",
                                      "internal")
    # several mistakes in one smx.toml: each is its own error, in file order
    found: list[tuple[str, str | None, str]] = [
        (p.message, p.hint, p.code) for p in getattr(exc, "problems", ())
    ] or [(message, hint, ident)]
    if out.debug and not isinstance(exc, KeyboardInterrupt):
        out.err_console.print(redact("".join(traceback.format_exception(exc))), markup=False)
    if out.json_mode:
        errors = []
        for text, tip, what in found:
            err = {"code": what, "message": redact(text)}
            if tip:
                err["hint"] = redact(tip)
            errors.append(err)
        out.emit_json(command, None, exit_code=code, errors=errors)
    else:
        for text, tip, _what in found:
            out.error(redact(text), redact(tip) if tip else None)
    return code
