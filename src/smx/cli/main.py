"""The `smx` command: global options, command registration, and error rendering.

Start-up cost matters (`smx --help` should feel instant): this module and the command modules
import only typer and smx's light modules; httpx, GitPython, pynvml and rich tables are imported
inside the functions that use them.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from smx import __version__


class SmxGroup(TyperGroup):
    """Renders SmxError (and Ctrl-C) once, for every command, with the right exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        from smx.cli.commands import display_rank

        return sorted(super().list_commands(ctx), key=display_rank)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        from smx.cli.parsing import hoist_global_options

        return super().parse_args(ctx, hoist_global_options(self, ctx, args))

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:
        words = list(args)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except Exception as exc:  # `smx --bogus`, `smx --json status`: before any command
            if not _is_usage_error(exc):
                raise
            from smx.cli.output import Output

            raise typer.Exit(_render_usage(Output(), exc, words)) from None

    def invoke(self, ctx: Any) -> Any:
        words = [*ctx._protected_args, *ctx.args]  # consumed by invoke; kept to name the command
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, BrokenPipeError):
            raise  # typer ends a closed pipe (`smx … | head`) quietly
        except Exception as exc:  # the single place errors become exit codes
            if _is_usage_error(exc):
                from smx.cli.state import state

                raise typer.Exit(_render_usage(state(ctx).out, exc, words)) from None
            if _is_click_exception(exc):
                raise
            raise typer.Exit(_render(ctx, exc, words)) from None
        except KeyboardInterrupt as exc:
            raise typer.Exit(_render(ctx, exc, words)) from None


def _is_click_exception(exc: BaseException) -> bool:
    from typer import _click

    return isinstance(exc, _click.exceptions.ClickException)


def _is_usage_error(exc: BaseException) -> bool:
    """A parser error; not the help that `smx model` without a subcommand shows."""
    from typer import _click

    errors = _click.exceptions
    return (isinstance(exc, errors.UsageError)
            and not isinstance(exc, errors.NoArgsIsHelpError))


def _render_usage(output: Any, exc: Any, words: list[str]) -> int:
    from smx.cli.errors import render_error
    from smx.cli.parsing import usage_error, wants_json
    from smx.errors import CommandLineError

    command, message, hint = usage_error(exc)
    if wants_json(words):
        output.json_mode = True
    return render_error(output, CommandLineError(message, hint=hint), command)


def _render(ctx: Any, exc: BaseException, words: list[str]) -> int:
    from smx.cli.errors import render_error
    from smx.cli.state import state

    return render_error(state(ctx).out, exc, _command_path(ctx, words))


def _command_path(ctx: Any, words: list[str]) -> str:
    """"model list" for `smx model list …`: --json errors name the command as successes do."""
    name = ctx.invoked_subcommand or ""
    path = [name] if name else []
    command = ctx.command.get_command(ctx, name) if name else None
    rest = words[words.index(name) + 1:] if name in words else []
    while command is not None and hasattr(command, "list_commands"):
        subs = set(command.list_commands(ctx))
        following = next((w for w in rest if w in subs), None)
        if following is None:
            break
        path.append(following)
        rest = rest[rest.index(following) + 1:]
        command = command.get_command(ctx, following)
    return " ".join(path)


app = typer.Typer(
    name="smx",
    cls=SmxGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # markdown: paragraphs of docstrings are re-flowed to the terminal's width, `code` shows.
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
    help="smx: reproducible environments for Stable Diffusion web UIs.\n\n"
    "One smx.toml declares web UIs, extensions, models and launch flags; smx makes the "
    "folder match it.\n\n"
    "Example: smx doctor && smx install comfyui && smx launch",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"smx {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    env: str | None = typer.Option(
        None, "--env", envvar="SMX_ENV", metavar="PATH",
        help="Environment folder (default: nearest smx.toml upwards)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
    # a counter (-v, -vv), not a number: no metavar, no "[default: 0]"
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, metavar="",
                                show_default=False, help="More detail."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    from smx.cli.state import state

    st = state(ctx)
    st.env_path = env
    st.out.quiet = quiet
    st.out.verbose = verbose
    st.out.debug = debug


def _register() -> None:
    from smx.cli import commands

    commands.register(app)


_register()


def run() -> None:
    import os

    if os.environ.get("_SMX_COMPLETE"):  # a shell asks for completions (completions/*)
        from smx.cli.complete import enable_shell_completion

        enable_shell_completion()
    # prog_name: `python -m smx` answers the same completion protocol and usage as `smx`
    app(prog_name="smx")
