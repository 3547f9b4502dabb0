"""One error family for all of smx.

The core raises these; the CLI renders them once (``cli/errors.py``) as one red line, an
optional hint line, and the exit code of the class: one exit code per meaning, so a script can
tell a failed check from a bad flag, a network failure, a crash. Messages never carry secrets:
callers pass URLs through :func:`smx.redact.redact` before putting them in a message.
"""

from __future__ import annotations


class ExitCode:
    OK = 0  # also a declined prompt: the user's choice, nothing changed (smx.cli.confirm)
    FAILED_CHECK = 1  # a check command's verdict: `smx doctor` found a blocker, `smx status` drift
    USAGE = 2  # bad flags, bad smx.toml, unknown names
    NETWORK = 3  # remote unreachable, HTTP errors, auth
    INTEGRITY = 4  # checksum/size mismatch, unsafe file, corrupted store
    INSTALL = 5  # a subprocess (git, pip, package install step) failed
    INTERNAL = 70  # an unexpected error: a bug in smx (EX_SOFTWARE of sysexits.h)
    INTERRUPTED = 130


class SmxError(Exception):
    """Base class. ``code`` is a stable machine-readable identifier used in ``--json``."""

    exit_code: int = ExitCode.USAGE
    code: str = "smx.error"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None,
                 reported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        # the command has shown it already (a check's report, its --json): only the exit code
        # is left to give
        self.reported = reported

    def __str__(self) -> str:
        return self.message


# --- 1: a check's verdict -------------------------------------------------------------------
class CheckFailed(SmxError):
    """A check command's verdict: `smx status` found drift, `smx doctor` a blocker."""

    exit_code = ExitCode.FAILED_CHECK
    code = "check.failed"


# --- 2: usage and configuration -------------------------------------------------------------
class UsageError(SmxError):
    exit_code = ExitCode.USAGE
    code = "usage"


class CommandLineError(UsageError):
    """The command line itself: an unknown command or option, a missing argument, a bad value."""

    code = "usage.command_line"


class ConfigError(SmxError):
    """smx.toml / smx.lock problems. The message starts with ``file:line:col:`` when known."""

    exit_code = ExitCode.USAGE
    code = "config.invalid"


class ConfigProblems(ConfigError):
    """Several mistakes in one smx.toml: each is reported (and in --json listed) on its own.

    ``problems`` holds them in file order, each a ConfigError with its file:line:col."""

    code = "config.several"

    def __init__(self, problems: list[ConfigError]) -> None:
        first = problems[0]
        super().__init__(f"{first.message} (and {len(problems) - 1} more)", hint=first.hint)
        self.problems = problems


class EnvNotFound(SmxError):
    exit_code = ExitCode.USAGE
    code = "env.not_found"


class NotFound(SmxError):
    """A name the user gave (package, extension, model, ref) does not exist."""

    exit_code = ExitCode.USAGE
    code = "not_found"


class EnvBusy(SmxError):
    exit_code = ExitCode.USAGE
    code = "env.busy"


class NotAvailable(SmxError):
    exit_code = ExitCode.USAGE
    code = "not_available"


class ConfirmationNeeded(UsageError):
    """A command that deletes something ran without --yes and without a terminal to ask on."""

    code = "confirm.needed"


class LockOutOfDate(ConfigError):
    """smx.lock does not pin what smx.toml asks for (`smx sync --frozen`)."""

    code = "lock.out_of_date"


# --- 3: network and remotes -----------------------------------------------------------------
class NetworkError(SmxError):
    exit_code = ExitCode.NETWORK
    code = "network"


class RemoteError(NetworkError):
    """The remote answered, but with an error (HTTP 4xx/5xx, git remote errors)."""

    code = "remote"


class AuthRequired(RemoteError):
    code = "auth.required"


class AccessDenied(RemoteError):
    code = "auth.denied"


class RateLimited(RemoteError):
    code = "remote.rate_limited"


# --- 4: integrity ---------------------------------------------------------------------------
class IntegrityError(SmxError):
    exit_code = ExitCode.INTEGRITY
    code = "integrity"


class ChecksumMismatch(IntegrityError):
    code = "integrity.checksum"


class UnsafeFile(IntegrityError):
    code = "integrity.unsafe"


# --- 5: install / subprocess ----------------------------------------------------------------
class InstallError(SmxError):
    exit_code = ExitCode.INSTALL
    code = "install"


class SubprocessFailed(InstallError):
    code = "install.subprocess"


class DiskSpaceError(InstallError):
    code = "disk.full"


# --- 130 ------------------------------------------------------------------------------------
class Interrupted(SmxError):
    exit_code = ExitCode.INTERRUPTED
    code = "interrupted"


def all_error_classes() -> list[type[SmxError]]:
    """Every SmxError subclass (for the error-code registry test and the docs)."""
    seen: list[type[SmxError]] = []
    stack: list[type[SmxError]] = [SmxError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
