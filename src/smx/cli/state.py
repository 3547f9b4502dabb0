"""Global options (``--env``, ``-q``, ``-v``, ``--debug``) and helpers every command uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from smx.cli.output import Output

if TYPE_CHECKING:
    from smx.environment.env import Env


@dataclass
class CliState:
    env_path: str | None = None
    out: Output = field(default_factory=Output)


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def out(ctx: typer.Context, json_mode: bool = False) -> Output:
    output = state(ctx).out
    if json_mode:
        output.json_mode = True
    return output


def env_root(ctx: typer.Context) -> Path:
    from smx.environment.discovery import find_env_root

    return find_env_root(explicit=state(ctx).env_path)


def open_env(ctx: typer.Context) -> Env:
    from smx.environment.env import Env

    return Env.open(env_root(ctx))


@contextmanager
def locked_env(ctx: typer.Context) -> Iterator[Env]:
    """Open the env under its process lock, for commands that change it."""
    from smx.environment.env import Env
    from smx.environment.layout import EnvLayout
    from smx.environment.process_lock import env_lock

    root = env_root(ctx)
    output = state(ctx).out
    with env_lock(EnvLayout(root).process_lock, on_wait=output.info):
        yield Env.open(root)
