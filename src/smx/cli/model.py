"""`smx model pull|list|remove|verify`: the models of an environment."""

from __future__ import annotations

from typing import Any

import typer

from smx.cli.complete import complete_model, complete_model_kind
from smx.words import count

app = typer.Typer(help="Models: pull from Civitai / Hugging Face / URLs, list, identify, "
                       "check for newer versions, verify, remove.\n\n"
                       "Example: smx model pull civitai:261336",
                  no_args_is_help=True)


@app.command("pull")
def pull(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="REF",
                              help="civitai:MODEL[@VERSION], hf:OWNER/REPO/PATH[@REV], a "
                                   "Civitai or Hugging Face page URL, an https:// URL, or "
                                   "local:FOLDER/FILE for a file already in Data/Models."),
    name: str | None = typer.Option(None, "--name", help="Name in smx.toml (default: from "
                                                         "the source)."),
    kind: str | None = typer.Option(None, "--kind", help="Model kind (checkpoint, lora, vae, "
                                                         "controlnet, motion-module, …); "
                                                         "default: what the source, the "
                                                         "file's header or its name says.",
                                    autocompletion=complete_model_kind),
    file: str | None = typer.Option(None, "--file", help="Civitai: which file of the version "
                                                         "(name, id or type)."),
    sha256: str | None = typer.Option(None, "--sha256", help="Plain URLs: the expected "
                                                             "SHA-256."),
    connections: int | None = typer.Option(None, "--connections", min=1, max=32,
                                           help="Parallel connections for large files "
                                                "(default: one, up to 8 when it is slow)."),
    allow_unsafe: bool = typer.Option(False, "--allow-unsafe",
                                      help="Place pickles that import dangerous code; "
                                           "with a matching --sha256, also files smx "
                                           "cannot scan."),
    replace: bool = typer.Option(False, "--replace",
                                 help="Move the entry that holds another version of this "
                                      "model to this one (default: add it next to it)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Add a model to smx.toml and download it into the shared store, verified.

    The kind comes from the source (Civitai's type), else from the file's safetensors header
    (read with a ranged request before the download), else from an unambiguous file name.
    Another version of a model already in smx.toml is added next to it (NAME-VERSION);
    --replace moves the existing entry instead. local:FOLDER/FILE registers a file placed in
    Data/Models by hand. Interrupted downloads resume. Tokens: CIVITAI_API_TOKEN, HF_TOKEN or
    `smx auth login`. Endpoints: SMX_CIVITAI_ENDPOINT, HF_ENDPOINT or [sources] in smx.toml.

    Example: smx model pull hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt
    """
    from smx.cli.state import locked_env, out
    from smx.models.manage import PullRequest
    from smx.models.manage import pull as do_pull

    output = out(ctx, json_out)
    request = PullRequest(ref=ref, name=name, kind=kind, file=file, sha256=sha256,
                          connections=connections, allow_unsafe=allow_unsafe, replace=replace)
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
    from smx.words import human_bytes

    size = human_bytes(outcome.size, "unknown size")
    facts = ", ".join(x for x in (outcome.kind, outcome.base_model, size) if x)
    where = f" → {outcome.path}" if outcome.path else ""
    digest = f" (sha256 {outcome.sha256[:12]}…)" if outcome.sha256 else ""
    if outcome.action == "downloaded":
        resumed = (f", resumed from {human_bytes(outcome.resumed_from)}"
                   if outcome.resumed_from else "")
        output.success(f"{outcome.name}: {facts}{where}{digest}{resumed}")
    elif outcome.action == "linked":
        output.success(f"{outcome.name}: {facts}{where}, the same file as {outcome.linked_to}; "
                       "stored once")
    elif outcome.action == "registered":
        output.success(f"{outcome.name}: {facts}{where}; registered as {outcome.source}"
                       f"{digest}")
    else:
        output.success(f"{outcome.name}: {facts}{where}; already present{digest}")
    if outcome.beside:
        output.info(f"added next to {outcome.beside}, which keeps its version; `--replace` "
                    f"moves {outcome.beside} to this version instead")
    if outcome.replaced:
        output.info(f"{outcome.name} moved from {outcome.replaced} to {outcome.source}")


@app.command("list")
def list_models(
    ctx: typer.Context,
    wide: bool = typer.Option(False, "--wide", help="Every column in full (locked pin, "
                                                     "sha256, web UIs), however long."),
    json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the environment's models: kind, base, size, source, state, trigger words.

    One line per model, fitted to the terminal (long sources shortened in the middle);
    --wide adds the locked pin, the sha256 and the web UIs that see each model.

    Example: smx model list --json
    """
    from dataclasses import asdict

    from smx.cli.model_views import model_columns, render
    from smx.cli.state import open_env, out
    from smx.models.store import list_models as rows_of

    output = out(ctx, json_out)
    rows = rows_of(open_env(ctx))
    if output.json_mode:
        output.emit_json("model list", {"models": [asdict(r) for r in rows]})
        return
    if not rows:
        output.info("no models yet; add one with `smx model pull REF`")
        return
    render(output, model_columns(rows, wide=wide), wide=wide)


@app.command("identify")
def identify(
    ctx: typer.Context,
    names: list[str] = typer.Argument(None, metavar="[NAME...]",
                                      help="Default: every local: model.",
                                      autocompletion=complete_model),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Look models that arrived by hand up on Civitai by their SHA-256.

    A local: model found there becomes civitai:MODEL@VERSION in smx.toml (the file stays where
    it is, and another machine can now download it) with its base model and trigger words.
    `smx init --adopt` and `smx model pull local:…` do this by the way when Civitai answers.

    Example: smx model identify
    """
    from dataclasses import asdict

    from smx.cli.state import locked_env, out
    from smx.models.identify import identify as do_identify

    output = out(ctx, json_out)
    with locked_env(ctx) as env:
        rows = do_identify(env, names or None, output.reporter(), explicit=True)
    if output.json_mode:
        output.emit_json("model identify", {"models": [asdict(r) for r in rows]})
        return
    for r in rows:
        if r.status == "identified":
            words = f"; trigger words: {', '.join(r.trigger_words)}" if r.trigger_words else ""
            output.success(f"{r.name}: {r.source} ({r.title}"
                           + (f", {r.base_model}" if r.base_model else "") + f"){words}")
        elif r.status == "skipped":
            output.info(f"{r.name}: skipped, {r.detail}")
    if not rows:
        output.info("no local: models to identify (models pulled from a source know it "
                    "already)")


@app.command("outdated")
def outdated(
    ctx: typer.Context,
    refresh: bool = typer.Option(False, "--refresh", help="Ask the sources again instead of "
                                                          "answers from the last 10 minutes."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """List models with a newer Civitai version or a newer Hugging Face revision.

    One request per model (answers kept for 10 minutes), no download, no token needed for
    public models. `smx lock --upgrade NAME` then `smx sync` takes a newer version; a version
    pinned in smx.toml moves with `smx model pull SOURCE --name NAME --replace`.

    Example: smx model outdated
    """
    from dataclasses import asdict

    from smx.cli.state import open_env, out
    from smx.errors import NetworkError
    from smx.models.outdated import outdated as do_outdated

    output = out(ctx, json_out)
    report = do_outdated(open_env(ctx), output.reporter(), refresh=refresh)
    failed = [r for r in report.rows if r.error]
    if output.json_mode:
        data = {"models": [{**asdict(r), "take": r.take} for r in report.rows],
                "unchecked": [{"name": n, "reason": why} for n, why in report.unchecked]}
        if failed:
            output.emit_json("model outdated", data, exit_code=NetworkError.exit_code, errors=[
                {"code": "model.check_failed", "message": f"{r.name}: {r.error}"}
                for r in failed])
            raise NetworkError(f"could not check {count(len(failed), 'model')}",
                               code="model.check_failed", reported=True)
        output.emit_json("model outdated", data)
        return
    newer = [r for r in report.rows if r.outdated]
    for r in newer:
        pin = " (pinned in smx.toml)" if r.pinned else ""
        output.print(f"{r.name}: {r.current} → {r.latest}{pin}; take it: {r.take}",
                     markup=False, soft_wrap=True)
    for name, why in report.unchecked:
        output.detail(f"{name}: not checked ({why})")
    checked = len(report.rows) - len(failed)
    if not newer and checked:
        output.success(f"{count(checked, 'model')} checked: all at their newest version")
    if failed:
        raise NetworkError(f"could not check {count(len(failed), 'model')}: "
                           + "; ".join(f"{r.name}: {r.error}" for r in failed[:3]),
                           hint="run the same command again later", code="model.check_failed")


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
    from smx.cli.confirm import confirmed
    from smx.cli.state import locked_env, out
    from smx.models.manage import remove as do_remove

    output = out(ctx, json_out)
    listed = ", ".join(names)
    with locked_env(ctx) as env:
        # an unknown name is refused by do_remove, before anything changes, without a question
        known = all(n in env.manifest.models or n in env.lock.models for n in names)
        files = "its file" if len(names) == 1 else "their files"
        if known and not confirmed(output, yes=yes, what=f"removing {listed} deletes {files}",
                                   question=f"Remove {listed} from smx.toml and delete "
                                   f"{files}?",
                                   retry=f"smx model remove {' '.join(names)} --yes"):
            return
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
            output.emit_json("model verify", data, exit_code=IntegrityError.exit_code, errors=[
                {"code": "integrity.corrupt" if r.status == "corrupt" else "integrity.missing",
                 "message": f"{r.name}: {r.status}: {r.detail}"} for r in bad])
            raise IntegrityError(f"{len(bad)} of {count(len(rows), 'model')} failed "
                                 "verification", code="integrity.corrupt", reported=True)
        output.emit_json("model verify", data)
        return
    for r in rows:
        if r.status == "ok":
            output.success(f"{r.name}: ok ({r.path})")
        else:
            output.error(f"{r.name}: {r.status}: {r.detail} ({r.path})")
    if bad:
        raise IntegrityError(f"{len(bad)} of {count(len(rows), 'model')} failed verification",
                             hint=_verify_hint(env, bad), code="integrity.corrupt")
    if not rows:
        output.info("no models in smx.lock")


def _verify_hint(env: Any, bad: list[Any]) -> str:
    """What brings the files back: a download for models with a source; for local: models,
    which exist only on this disk, the user's own copy."""
    local = [r.name for r in bad if env.lock.models[r.name].source.startswith("local:")]
    fetched = [r.name for r in bad if r.name not in local]
    hints = []
    if fetched:
        files = "file" if len(fetched) == 1 else "files"
        hints.append(f"delete the corrupt {files} and run `smx sync` to download them again"
                     + (f" ({', '.join(fetched)})" if local else ""))
    if local:
        which = "a local: model, it exists" if len(local) == 1 else "local: models, they exist"
        hints.append(f"{', '.join(local)}: {which} only on this disk and cannot "
                     "be downloaded; put the original file back (from a backup or where you "
                     "got it), or update sha256 in smx.toml if the file changed on purpose")
    return "; ".join(hints)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="model")
