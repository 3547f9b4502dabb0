"""`smx model pull|list|remove|verify`: the models of an environment."""

from __future__ import annotations

from typing import Any

import typer

from smx.cli.complete import complete_model, complete_model_kind

app = typer.Typer(help="Models: pull from Civitai / Hugging Face / URLs, list, verify, remove.\n\n"
                       "Example: smx model pull civitai:261336",
                  no_args_is_help=True)


@app.command("pull")
def pull(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="REF",
                              help="civitai:MODEL[@VERSION], hf:OWNER/REPO/PATH[@REV], a "
                                   "Civitai or Hugging Face page URL, or an https:// URL."),
    name: str | None = typer.Option(None, "--name", help="Name in smx.toml (default: from "
                                                         "the source)."),
    kind: str | None = typer.Option(None, "--kind", help="Model kind (checkpoint, lora, vae, "
                                                         "controlnet, motion-module, …).",
                                    autocompletion=complete_model_kind),
    file: str | None = typer.Option(None, "--file", help="Civitai: which file of the version "
                                                         "(name, id or type)."),
    sha256: str | None = typer.Option(None, "--sha256", help="Plain URLs: the expected "
                                                             "SHA-256."),
    connections: int | None = typer.Option(None, "--connections", min=1, max=32,
                                           help="Parallel connections for large files "
                                                "(default 8)."),
    allow_unsafe: bool = typer.Option(False, "--allow-unsafe",
                                      help="Place pickles that import dangerous code."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Add a model to smx.toml and download it into the shared store, verified.

    Interrupted downloads resume. Tokens: CIVITAI_API_TOKEN, HF_TOKEN or `smx auth login`.
    Endpoints: SMX_CIVITAI_ENDPOINT, HF_ENDPOINT or [sources] in smx.toml.

    Example: smx model pull hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt --kind motion-module
    """
    from smx.cli.state import locked_env, out
    from smx.models.manage import PullRequest
    from smx.models.manage import pull as do_pull

    output = out(ctx, json_out)
    request = PullRequest(ref=ref, name=name, kind=kind, file=file, sha256=sha256,
                          connections=connections, allow_unsafe=allow_unsafe)
    with locked_env(ctx) as env:
        outcome = do_pull(env, request, output.reporter())
    if output.json_mode:
        output.emit_json("model pull", _outcome_json(outcome))
        return
    _render_outcome(output, outcome)


def _outcome_json(outcome: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(outcome)


def _render_outcome(output: Any, outcome: Any) -> None:
    from smx.models.download import human_size

    facts = ", ".join(x for x in (outcome.kind, outcome.base_model, human_size(outcome.size))
                      if x)
    where = f" → {outcome.path}" if outcome.path else ""
    digest = f" (sha256 {outcome.sha256[:12]}…)" if outcome.sha256 else ""
    if outcome.action == "downloaded":
        resumed = (f", resumed from {human_size(outcome.resumed_from)}"
                   if outcome.resumed_from else "")
        output.success(f"{outcome.name}: {facts}{where}{digest}{resumed}")
    elif outcome.action == "linked":
        output.success(f"{outcome.name}: {facts}{where}, the same file as {outcome.linked_to}; "
                       "stored once")
    else:
        output.success(f"{outcome.name}: {facts}{where}; already present{digest}")


@app.command("list")
def list_models(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the environment's models: kind, base, size, source, sha256, which UIs see them.

    Example: smx model list --json
    """
    from dataclasses import asdict

    from smx.cli.state import open_env, out
    from smx.models.download import human_size
    from smx.models.store import list_models as rows_of

    output = out(ctx, json_out)
    rows = rows_of(open_env(ctx))
    if output.json_mode:
        output.emit_json("model list", {"models": [asdict(r) for r in rows]})
        return
    if not rows:
        output.info("no models yet; add one with `smx model pull REF`")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("name", "kind", "base", "size", "source", "sha256", "used by", "state"):
        # only the long columns wrap; the short ones stay readable in a narrow terminal
        wraps = column in ("source", "used by")
        table.add_column(column, overflow="fold" if wraps else "ellipsis", no_wrap=not wraps,
                         justify="right" if column == "size" else "left")
    for r in rows:
        table.add_row(r.name, r.kind or "?", r.base_model or "", human_size(r.size_bytes)
                      if r.size_bytes is not None else "", r.source,
                      (r.sha256 or "")[:10], ", ".join(r.used_by), r.state)
    output.table(table)


@app.command("remove")
def remove(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., metavar="NAME...", help="Model names in smx.toml.",
                                      autocompletion=complete_model),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Remove models from smx.toml and delete their files (unless another entry shares one).

    Example: smx model remove mm-sdxl --yes
    """
    import sys

    from smx.cli.state import locked_env, out
    from smx.errors import UsageError
    from smx.models.manage import remove as do_remove

    output = out(ctx, json_out)
    if not yes:
        if not sys.stdin.isatty() and output.json_mode:
            raise UsageError("removing models needs confirmation", hint="pass --yes")
        listed = ", ".join(names)
        if not typer.confirm(f"Remove {listed} from smx.toml and delete the file(s)?",
                             default=False, err=True):
            raise typer.Exit(1)
    with locked_env(ctx) as env:
        outcomes = do_remove(env, names, output.reporter())
    if output.json_mode:
        output.emit_json("model remove", {"removed": [_outcome_json(o) for o in outcomes]})
        return
    for o in outcomes:
        kept = " (file kept: shared or not smx's)" if o.action == "kept" else ""
        output.success(f"removed {o.name}{kept}")


@app.command("verify")
def verify(
    ctx: typer.Context,
    names: list[str] = typer.Argument(None, metavar="[NAME...]", help="Default: all models.",
                                      autocompletion=complete_model),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Re-hash the stored models against smx.lock; exit 4 when one is missing or corrupt.

    Example: smx model verify
    """
    from smx.cli.state import open_env, out
    from smx.errors import IntegrityError
    from smx.models.store import verify as do_verify

    output = out(ctx, json_out)
    env = open_env(ctx)
    unknown = [n for n in names or [] if n not in env.lock.models]
    if unknown:
        from smx.errors import NotFound

        raise NotFound(f"no model named {unknown[0]!r} in smx.lock",
                       hint="see `smx model list`", code="model.unknown")
    rows = do_verify(env, names or None, output.reporter())
    bad = [r for r in rows if r.status != "ok"]
    if output.json_mode:
        from dataclasses import asdict

        data = {"models": [asdict(r) for r in rows], "ok": not bad}
        if bad:
            output.emit_json("model verify", data, exit_code=4, errors=[
                {"code": "integrity.corrupt" if r.status == "corrupt" else "integrity.missing",
                 "message": f"{r.name}: {r.status}: {r.detail}"} for r in bad])
            raise typer.Exit(4)
        output.emit_json("model verify", data)
        return
    for r in rows:
        if r.status == "ok":
            output.success(f"{r.name}: ok ({r.path})")
        else:
            output.error(f"{r.name}: {r.status}: {r.detail} ({r.path})")
    if bad:
        raise IntegrityError(
            f"{len(bad)} of {len(rows)} model(s) failed verification",
            hint="delete the corrupt file(s) and run `smx sync` to download them again",
            code="integrity.corrupt")
    if not rows:
        output.info("no models in smx.lock")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="model")
