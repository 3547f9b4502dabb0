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
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Where to write (default: export/<package> in the "
                                            "env, or export/<package>.tar.gz for oci)."),
    smx_spec: str | None = typer.Option(None, "--smx-spec",
                                        help="pip requirement for smx inside the image "
                                             "(default: smx-cli==<this version>)."),
) -> None:
    """Write a Dockerfile whose image runs `smx sync --frozen` at build and `smx launch`.

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
        output_obj.info(f"next: docker build -t {env.manifest.name.lower()}-{plan.package} "
                        f"{output}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
