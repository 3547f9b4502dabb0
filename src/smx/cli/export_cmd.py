"""`smx export`: a container build context that reproduces the environment."""

from __future__ import annotations

from pathlib import Path

import typer

from smx.cli.complete import complete_package


def export(
    ctx: typer.Context,
    fmt: str = typer.Option("dockerfile", "--format", "-f",
                            help="dockerfile (a build-context folder) or oci (the context as "
                                 "one .tar.gz)."),
    package: str | None = typer.Option(None, "--package", "-p",
                                       help="The package the image runs (needed when the env "
                                            "has several).",
                                       autocompletion=complete_package),
    models: str = typer.Option("volume", "--models",
                               help="bake: models inside the image; volume: synced into a "
                                    "volume mounted at /env/Data/Models at start."),
    output: Path | None = typer.Option(None, "--output", "-o", metavar="PATH",
                                       help="Where to write (default: export/PACKAGE in the "
                                            "env, or export/PACKAGE.tar.gz for oci)."),
    smx_spec: str | None = typer.Option(None, "--smx-spec", metavar="REQUIREMENT",
                                        help="Install smx in the image with pip from this "
                                             "requirement (e.g. a version on your index) "
                                             "instead of the wheel of this smx that export "
                                             "puts in the build context."),
) -> None:
    """Write a Dockerfile whose image runs `smx sync --frozen` at build and `smx launch`.

    The build context holds narrowed copies of smx.toml and smx.lock and a wheel of this smx
    (the one that wrote smx.lock). Refused, with the fix, when the image's
    `smx sync --frozen` would fail: smx.toml and smx.lock disagree, or smx.lock does not
    record a package's Python packages yet (run `smx sync` first).

    Example: smx export --package comfyui --models volume && docker build -t sd export/comfyui
    """
    from smx.cli.state import open_env, out
    from smx.errors import UsageError
    from smx.export import plan_export, write_export

    output_obj = out(ctx)
    env = open_env(ctx)
    plan = plan_export(env, package=package, models=models, fmt=fmt, smx_spec=smx_spec)
    if output is None:
        output = env.root / "export" / (f"{plan.package}.tar.gz" if fmt == "oci"
                                        else plan.package)
    if output.resolve() == env.root.resolve():
        raise UsageError("refusing to export into the environment folder itself",
                         hint="the export holds narrowed copies of smx.toml and smx.lock; "
                              "pick another --output")
    written = write_export(plan, output, fmt)
    output_obj.success(f"exported {plan.package!r} ({plan.base_image}, models: {plan.models}) "
                       f"to {output}")
    for path in written:
        output_obj.detail(f"  {path}")
    if fmt == "dockerfile":
        output_obj.info(f"next: docker build -t {plan.tag} {output}")
    else:
        output_obj.info(f"next: docker build -t {plan.tag} - < {output}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
