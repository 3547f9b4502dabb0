"""Which command lives in which module, and how `smx --help` presents them.

Each command module stays small and imports only typer at module level.
"""

from __future__ import annotations

import typer


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

    from smx.cli import check_cmd, lock_cmd, status_cmd

    lock_cmd.register(app)
    status_cmd.register(app)
    check_cmd.register(app)

    from smx.cli import service

    service.register(app)

    _present(app)


# `smx --help` groups commands the way a user meets them, in this order.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Set up", ("doctor", "init")),
    ("Web UIs", ("install", "update", "remove", "list", "check", "launch", "ps", "logs",
                 "stop")),
    ("Extensions and models", ("ext", "model", "auth")),
    ("Reproduce", ("sync", "lock", "status", "export")),
    ("Shell", ("completion",)),
)


def _first_sentence(doc: str | None) -> str | None:
    """The command list shows one line per command: the docstring's first sentence."""
    if not doc:
        return None
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


_ORDER = [name for _panel, names in PANELS for name in names]


def display_rank(name: str | None) -> int:
    return _ORDER.index(name) if name in _ORDER else len(_ORDER)


def _present(app: typer.Typer) -> None:
    panel_of = {name: panel for panel, names in PANELS for name in names}
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else None)
        command.rich_help_panel = panel_of.get(name or "", "Other")
        if command.short_help is None and command.callback is not None:
            command.short_help = _first_sentence(command.callback.__doc__)
    for group in app.registered_groups:
        group.rich_help_panel = panel_of.get(group.name or "", "Other")
