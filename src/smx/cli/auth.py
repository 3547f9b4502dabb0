"""`smx auth login|logout|status`: API tokens for Civitai and Hugging Face."""

from __future__ import annotations

import typer

app = typer.Typer(help="API tokens for Civitai and Hugging Face (stored outside every env).\n\n"
                       "Example: smx auth login civitai",
                  no_args_is_help=True)


@app.command("login")
def login(
    ctx: typer.Context,
    service: str = typer.Argument(..., metavar="SERVICE", help="civitai or huggingface (hf)."),
) -> None:
    """Store a token (read from a hidden prompt, or stdin when piped).

    Environment variables (CIVITAI_API_TOKEN, HF_TOKEN) still win over a stored token.

    Example: smx auth login hf
    """
    import sys

    from smx.cli.state import out
    from smx.models.auth import TOKEN_PAGES, get_token, service_name, store_token

    output = out(ctx)
    name = service_name(service)
    if sys.stdin.isatty():
        value = typer.prompt(f"{name} token (from {TOKEN_PAGES[name]})", hide_input=True,
                             err=True)
    else:  # piped (`pass show civitai | smx auth login civitai`): never echo, never a tty
        value = sys.stdin.readline()
    path = store_token(name, value)
    output.success(f"{name} token stored in {path} (readable by you only)")
    current = get_token(name)
    if current.origin not in (None, "smx auth"):
        output.warn(f"{current.origin} is set and wins over the stored token")


@app.command("logout")
def logout(
    ctx: typer.Context,
    service: str = typer.Argument(..., metavar="SERVICE", help="civitai or huggingface (hf)."),
) -> None:
    """Forget a stored token.

    Example: smx auth logout civitai
    """
    from smx.cli.state import out
    from smx.models.auth import forget_token, get_token, service_name

    output = out(ctx)
    name = service_name(service)
    if forget_token(name):
        output.success(f"{name} token removed")
    else:
        output.info(f"no stored {name} token")
    current = get_token(name)
    if current.value:
        output.warn(f"{current.origin} is still set in the environment")


@app.command("status")
def status(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Which services have a token, and where it comes from (never the token itself).

    Example: smx auth status
    """
    from smx.cli.state import out
    from smx.models.auth import SERVICES, auth_file, get_token

    output = out(ctx, json_out)
    tokens = [get_token(s) for s in SERVICES]
    if output.json_mode:
        output.emit_json("auth status", {
            "file": str(auth_file()),
            "services": {t.service: {"set": t.value is not None, "from": t.origin,
                                     "stored_but_overridden": t.shadowed} for t in tokens}})
        return
    for t in tokens:
        if t.value is None:
            output.print(f"{t.service}: not set", markup=False)
        else:
            extra = " (a stored token exists but this one wins)" if t.shadowed else ""
            output.print(f"{t.service}: set, from {t.origin}{extra}", markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="auth")
