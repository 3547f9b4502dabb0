"""mkdocs hook: the command reference and the exit-code table, generated from smx itself.

At every build, one page per command (``commands/<name>.md``, ``commands/<group>-<sub>.md``)
is written from the click tree behind smx's Typer app — usage, help text, examples, arguments,
options with their defaults and environment variables — and the "Commands" entry of the nav is
filled with them. So the reference cannot drift from the code: change a help string and the
next ``mkdocs build`` shows it.

Tables generated from the code also live in the pages themselves, between a pair of markers:
``<!-- smx:exit-codes -->`` … ``<!-- /smx:exit-codes -->`` holds the table of every
``smx.errors`` class, ``smx:model-kinds`` the model kinds and their store folders,
``smx:packages`` the package catalog, ``smx:json-pages`` the list of docs/json pages (also the
"JSON output" nav section). The build regenerates what is between the markers; the committed
copy is there for readers of the Markdown (GitHub shows it, and an empty marker would show
nothing). ``python docs/hooks/commands.py`` rewrites the committed copies; a test checks they
are current.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

# <!-- smx:NAME --> generated Markdown <!-- /smx:NAME -->
GENERATED_BLOCK = re.compile(r"<!-- smx:(?P<name>[a-z-]+) -->\n(?P<body>.*?)"
                             r"<!-- /smx:(?P=name) -->", re.DOTALL)
COMMANDS_NAV_TITLE = "Commands"
JSON_NAV_TITLE = "JSON output"


@dataclass
class CommandPage:
    path: tuple[str, ...]  # ("model", "pull")
    command: Any  # click.Command
    parent_ctx: Any

    @property
    def title(self) -> str:
        return "smx " + " ".join(self.path)

    @property
    def uri(self) -> str:
        return "commands/" + "-".join(self.path) + ".md"


# --- walking the click tree ------------------------------------------------------------------
def _root() -> tuple[Any, Any]:
    import typer.main

    from smx.cli.main import app

    command = typer.main.get_command(app)
    ctx = command.make_context("smx", [], resilient_parsing=True)
    return command, ctx


def _visible_subcommands(group: Any, ctx: Any) -> list[tuple[str, Any]]:
    found = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is not None and not cmd.hidden:
            found.append((name, cmd))
    return found


def command_pages() -> list[CommandPage]:
    root, root_ctx = _root()
    pages: list[CommandPage] = []

    def walk(group: Any, ctx: Any, prefix: tuple[str, ...]) -> None:
        for name, cmd in _visible_subcommands(group, ctx):
            path = (*prefix, name)
            pages.append(CommandPage(path, cmd, ctx))
            if hasattr(cmd, "list_commands"):
                sub_ctx = cmd.make_context(name, [], parent=ctx, resilient_parsing=True)
                walk(cmd, sub_ctx, path)

    walk(root, root_ctx, ())
    return pages


# --- rendering -------------------------------------------------------------------------------
def _escape_text(text: str) -> str:
    """Escape HTML outside `code spans`, so `<package>` in a help string shows as typed."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") and p.endswith("`") and len(p) > 1
                   else html.escape(p, quote=False) for p in parts)


def render_help(text: str) -> str:
    """A command's help text as Markdown; ``Example: …`` lines become shell blocks."""
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(_escape_text(" ".join(line.strip() for line in paragraph)))
            out.append("")
            paragraph.clear()

    for raw in (text or "").strip().splitlines():
        line = raw.strip()
        if line.startswith("\b"):
            line = line.lstrip("\b").strip()
        if not line:
            flush()
            continue
        match = re.match(r"^Examples?:\s*(.*)$", line)
        if match:
            flush()
            out.append("**Example**")
            out.append("")
            out.append("```bash")
            # "a  |  b" or "a     b" is how a one-line help shows two examples side by side
            # (a pipe with single spaces, `smx doctor --json | jq`, is part of one example)
            out.extend(part.strip() for part in re.split(r"\s{2,}\|\s{2,}|\s{3,}",
                                                         match.group(1)) if part.strip())
            out.append("```")
            out.append("")
            continue
        paragraph.append(line)
    flush()
    return "\n".join(out).strip() + "\n"


def _param_names(param: Any) -> str:
    names = [*param.opts, *param.secondary_opts]
    return ", ".join(f"`{n}`" for n in names)


def _param_default(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False) and not getattr(param, "secondary_opts", None):
        return ""
    if getattr(param, "count", False):
        return ""
    try:
        value = param.get_default(ctx, call=False)
    except Exception:  # a default that needs a runtime context: say nothing rather than fail
        return ""
    if value is None or value == () or value == []:
        return ""
    if callable(value):
        return "(computed)"
    return f"`{value}`"


def _type_text(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return "flag"
    label = ""
    if getattr(param, "metavar", None):
        label = param.metavar
    elif callable(getattr(param, "display_type", None)):  # Typer's own click
        label = param.display_type(ctx)
    elif getattr(param, "type", None) is not None:  # plain click
        choices = getattr(param.type, "choices", None)
        label = "|".join(map(str, choices)) if choices else param.type.name
    return f"`{label}`".replace("|", "\\|") if label else ""


def _cell(text: str) -> str:
    return _escape_text(" ".join((text or "").split())).replace("|", "\\|")


def render_command(page: CommandPage) -> str:
    cmd = page.command
    ctx = cmd.make_context(page.path[-1], [], parent=page.parent_ctx, resilient_parsing=True)
    lines = [f"# {page.title}", ""]
    lines += ["<!-- Generated by docs/hooks/commands.py from smx's Typer app; "
              "edit the command's docstring, not this page. -->", ""]
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    lines += ["```text", f"{page.title} {usage}".rstrip(), "```", ""]
    lines.append(render_help(cmd.help or ""))

    arguments = [p for p in cmd.params if p.param_type_name == "argument"]
    options = [p for p in cmd.params if p.param_type_name == "option" and not p.hidden]
    if arguments:
        lines += ["## Arguments", "", "| Argument | Required | Description |", "|---|---|---|"]
        for arg in arguments:
            name = (arg.metavar or arg.name or "").upper()
            lines.append(f"| `{name}` | {'yes' if arg.required else 'no'} | "
                         f"{_cell(getattr(arg, 'help', '') or '')} |")
        lines.append("")
    if options:
        lines += ["## Options", "", "| Option | Value | Default | Description |",
                  "|---|---|---|---|"]
        for opt in options:
            desc = _cell(opt.help or "")
            if opt.envvar:
                envs = [opt.envvar] if isinstance(opt.envvar, str) else list(opt.envvar)
                desc += " Environment: " + ", ".join(f"`{e}`" for e in envs) + "."
            lines.append(f"| {_param_names(opt)} | {_type_text(opt, ctx)} | "
                         f"{_param_default(opt, ctx)} | {desc.strip()} |")
        lines.append("")
    if hasattr(cmd, "list_commands"):
        subs = _visible_subcommands(cmd, ctx)
        if subs:
            lines += ["## Subcommands", "", "| Command | What it does |", "|---|---|"]
            for name, sub in subs:
                target = "-".join((*page.path, name)) + ".md"
                lines.append(f"| [`{page.title} {name}`]({target}) | "
                             f"{_cell(sub.get_short_help_str(limit=200))} |")
            lines.append("")
    lines += ["Global options (`--env`, `-q`, `-v`, `--debug`) go before or after the command: "
              "see [the command overview](index.md).", ""]
    return "\n".join(lines)


def render_index(pages: list[CommandPage]) -> str:
    root, _ctx = _root()
    lines = ["# Commands", "",
             "<!-- Generated by docs/hooks/commands.py from smx's Typer app. -->", "",
             render_help(root.help or ""), "## Global options", "",
             "They go before or after the command: `smx --env ~/sd -q sync` or "
             "`smx sync --env ~/sd -q` (after `--`, words go to the web UI as they are).", "",
             "| Option | Description |", "|---|---|"]
    for opt in root.params:
        if opt.param_type_name != "option" or opt.hidden:
            continue
        desc = _cell(opt.help or "")
        lines.append(f"| {_param_names(opt)} | {desc} |")
    lines += ["", "## All commands", "", "| Command | What it does |", "|---|---|"]
    for page in pages:
        lines.append(f"| [`{page.title}`]({page.uri.removeprefix('commands/')}) | "
                     f"{_cell(page.command.get_short_help_str(limit=200))} |")
    lines.append("")
    return "\n".join(lines)


def nav_entries(pages: list[CommandPage]) -> list[Any]:
    nav: list[Any] = [{"Overview": "commands/index.md"}]
    groups: dict[str, list[Any]] = {}
    for page in pages:
        if len(page.path) == 1:
            if hasattr(page.command, "list_commands"):
                groups[page.path[0]] = [{"Overview": page.uri}]
                nav.append({page.title: groups[page.path[0]]})
            else:
                nav.append({page.title: page.uri})
        else:
            groups.setdefault(page.path[0], []).append({page.title: page.uri})
    return nav


def _import_every_smx_module() -> None:
    """Error classes may live next to the code that raises them (smx.packages.loadcheck):
    import every module, so the table lists them all whatever was imported before."""
    import importlib
    import pkgutil

    import smx

    for module in pkgutil.walk_packages(smx.__path__, "smx."):
        if not module.name.endswith("__main__"):  # `python -m smx` would run smx
            importlib.import_module(module.name)


def render_exit_codes() -> str:
    from smx.errors import ExitCode, all_error_classes

    _import_every_smx_module()

    meanings = {
        0: "success (also a declined confirmation: nothing changed)",
        1: "a check found a problem (`smx doctor`: a blocker; `smx status`: drift)",
        2: "usage or configuration: bad flags, invalid smx.toml, unknown names",
        3: "network: remote unreachable, HTTP error, authentication",
        4: "integrity: checksum or size mismatch, unsafe file",
        5: "install: a subprocess (git, pip, an install step) failed",
        70: "an unexpected error: a bug in smx (run again with `--debug` and report it)",
        130: "interrupted (Ctrl-C); run the same command again to resume",
    }
    lines = ["| Exit code | Meaning |", "|---|---|"]
    codes = [(name, value) for name, value in vars(ExitCode).items() if name.isupper()]
    for name, value in sorted(codes, key=lambda kv: int(kv[1])):
        if name.isupper():
            lines.append(f"| `{value}` | {meanings.get(value, name.lower())} |")
    lines += ["", "Every error also has a stable identifier, the `code` in `--json` output "
              "(`errors[].code`):", "", "| `code` | Exit code | Error class | When |",
              "|---|---|---|---|"]
    rows = []
    for cls in all_error_classes():
        doc = (cls.__doc__ or "").strip().splitlines()
        when = doc[0] if doc else ""
        rows.append((cls.code, cls.exit_code, cls.__name__, when))
    for code, exit_code, name, when in sorted(rows, key=lambda r: (r[1], r[0])):
        lines.append(f"| `{code}` | `{exit_code}` | `{name}` | {_cell(when)} |")
    lines.append("")
    return "\n".join(lines)


def render_model_kinds() -> str:
    from smx.catalog.model_kinds import MODEL_KINDS

    lines = ["| `kind` | Store folder | What |", "|---|---|---|"]
    for kind in MODEL_KINDS:
        lines.append(f"| `{kind.name}` | `Data/Models/{kind.folder}` | {_cell(kind.description)} |")
    return "\n".join(lines) + "\n"


def render_packages() -> str:
    from smx.catalog.packages import PACKAGES

    lines = ["| `source` | Web UI | Default `ref` | Python | Models wired by |",
             "|---|---|---|---|---|"]
    wiring = {"flags": "command-line flags", "extra_model_paths": "`extra_model_paths.smx.yaml`",
              "config_txt": "`config.txt`"}
    for pkg in PACKAGES.values():
        lines.append(f"| `{pkg.name}` | {_cell(pkg.title)} | `{pkg.default_ref}` | "
                     f"`{pkg.python}` | {wiring.get(pkg.model_wiring, pkg.model_wiring)} |")
    return "\n".join(lines) + "\n"


# --- mkdocs events ---------------------------------------------------------------------------
_PAGES: list[CommandPage] = []


def json_nav(docs_dir: str) -> list[Any]:
    """The envelope page, then one entry per docs/json/*.md titled by its heading: a page
    added for a new command's --json appears without editing mkdocs.yml."""
    from pathlib import Path

    folder = Path(docs_dir) / "json"
    entries: list[Any] = [{"The envelope": "json/index.md"}]
    for page in sorted(folder.glob("*.md")):
        if page.name == "index.md":
            continue
        first = page.read_text(encoding="utf-8").lstrip().splitlines()[0]
        title = first.lstrip("# ").removeprefix("JSON:").replace("`", "")
        title = title.replace(" --json", "").strip()  # "smx launch --dry-run"
        entries.append({title or page.stem: f"json/{page.name}"})
    return entries


def _fill(nav: list[Any], title: str, value: list[Any]) -> None:
    for entry in nav:
        if isinstance(entry, dict):
            for key, sub in entry.items():
                if key == title:
                    entry[key] = value
                elif isinstance(sub, list):
                    _fill(sub, title, value)


def on_config(config: Any) -> Any:
    _PAGES[:] = command_pages()
    nav = config.get("nav") or []
    _fill(nav, COMMANDS_NAV_TITLE, nav_entries(_PAGES))
    _fill(nav, JSON_NAV_TITLE, json_nav(config["docs_dir"]))
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, "commands/index.md", content=render_index(_PAGES)))
    for page in _PAGES:
        files.append(File.generated(config, page.uri, content=render_command(page)))
    return files


def render_json_pages(docs_dir: str) -> str:
    rows = ["| Command | Schema of `data` |", "|---|---|"]
    for entry in json_nav(docs_dir)[1:]:
        (title, uri), = entry.items()
        rows.append(f"| `{title} --json` | [{uri.removeprefix('json/')}]"
                    f"({uri.removeprefix('json/')}) |")
    return "\n".join(rows) + "\n"


def render_generated(name: str, docs_dir: str) -> str:
    renderers = {"exit-codes": render_exit_codes, "model-kinds": render_model_kinds,
                 "packages": render_packages,
                 "json-pages": lambda: render_json_pages(docs_dir)}
    if name not in renderers:
        raise ValueError(f"unknown generated block smx:{name}; known: {', '.join(renderers)}")
    return renderers[name]()


def fill_generated(markdown: str, docs_dir: str, *, keep_markers: bool = True) -> str:
    """Each marked block with what the code says now (the site drops the markers)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group("name")
        body = render_generated(name, docs_dir)
        if not keep_markers:
            return body
        return f"<!-- smx:{name} -->\n{body}<!-- /smx:{name} -->"

    return GENERATED_BLOCK.sub(fill, markdown)


def refresh_pages(docs_dir: str) -> list[str]:
    """Rewrite the committed copies of the generated blocks; the pages that changed."""
    from pathlib import Path

    changed = []
    for page in sorted(Path(docs_dir).rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        fresh = fill_generated(text, docs_dir)
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
            changed.append(str(page))
    return changed


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return fill_generated(markdown, config["docs_dir"], keep_markers=False)


if __name__ == "__main__":  # python docs/hooks/commands.py: refresh the committed tables
    from pathlib import Path

    for path in refresh_pages(str(Path(__file__).resolve().parents[1])):
        print(f"updated {path}")
