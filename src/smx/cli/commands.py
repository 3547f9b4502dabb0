"""Which command lives in which module. Each module stays small and imports only typer.

A command whose feature is not built yet is registered hidden and answers "not available
yet" with exit 2 — never a fake success.
"""

from __future__ import annotations

import typer

NOT_AVAILABLE: tuple[str, ...] = ()  # every command is built


def _not_available(name: str) -> typer.Typer | None:
    def handler() -> None:
        from smx.errors import NotAvailable

        raise NotAvailable(f"`smx {name}` is not available yet in this version of smx",
                           hint="see `smx --help` for the commands that are")

    return handler  # type: ignore[return-value]


def register(app: typer.Typer) -> None:
    from smx.cli import doctor, env_cmds, export_cmd, launch, sync_cmds

    env_cmds.register(app)
    sync_cmds.register(app)
    export_cmd.register(app)
    doctor.register(app)
    launch.register(app)

    from smx.cli import packages as package_cmds

    package_cmds.register(app)

    from smx.cli import auth as auth_cmds
    from smx.cli import model as model_cmds

    model_cmds.register(app)
    auth_cmds.register(app)

    from smx.cli import completion_cmd

    completion_cmd.register(app)

    from smx.cli import ext as ext_cmds

    ext_cmds.register(app)

    from smx.cli import lock_cmd, status_cmd

    lock_cmd.register(app)
    status_cmd.register(app)

    # Commands still to be built: hidden, and honest about it.
    for name in NOT_AVAILABLE:
        app.command(name, hidden=True, context_settings={"allow_extra_args": True,
                                                         "ignore_unknown_options": True}
                    )(_not_available(name))
