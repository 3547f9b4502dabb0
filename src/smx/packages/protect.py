"""Protected pins: what an extension may not move in a web UI's venv.

Once a web UI's own requirements are in, its resolved core becomes a constraints file that
every later pip/uv run in that venv honours (smx passes ``-c``; scripts that call pip
themselves get ``PIP_CONSTRAINT``/``UV_CONSTRAINT``):

- the torch family (torch, torchvision, torchaudio, xformers) as installed for the backend;
- numpy, which half the ecosystem's binary wheels are built against (numpy 2 breaks wheels
  built for 1.x: "numpy.dtype size changed");
- every ``name==version`` line of the web UI's own requirement files, at the installed version.

A pin the venv no longer satisfies (an extension moved it with ``--allow-pin-change``) stops
being protected, so the web UI's own installer can put its version back without a conflict.
While the web UI's own requirements are being installed only the torch family (and the
catalog's known fixes) are held: its own pins are what is being resolved.

An extension that asks for another version keeps the pin and gets the rest: a requirement file
line that contradicts a pin is left out (and reported); a conflict pip finds deeper down is
read back from pip's own report. Either way the user is told which extension asked for what.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from smx.catalog.packages import CatalogPackage

TORCH_FAMILY = ("torch", "torchvision", "torchaudio", "xformers")
CORE = ("numpy",)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    why: str  # "the torch build", "a1111's own pin", "the core numpy"

    @property
    def line(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class ProtectedPins:
    package: str
    pins: tuple[Pin, ...]
    fixes: tuple[str, ...] = ()  # the catalog's known-fix constraint lines

    def get(self, name: str) -> Pin | None:
        key = canonical(name)
        return next((p for p in self.pins if p.name == key), None)

    def text(self) -> str:
        lines = [f"# smx: pins protected in {self.package}'s venv (see `smx check`); every "
                 "pip/uv run there honours them"]
        lines += [f"{fix}" for fix in self.fixes]
        lines += [pin.line for pin in self.pins]
        return "\n".join(lines) + "\n"

    def without(self, names: set[str]) -> ProtectedPins:
        """These pins let through (``--allow-pin-change``); the torch family always stays."""
        keep = tuple(p for p in self.pins if p.name not in names or p.name in TORCH_FAMILY)
        return ProtectedPins(self.package, keep, self.fixes)


def freeze_versions(freeze: list[str]) -> dict[str, str]:
    """``name==version`` lines (smx.lock's freeze, or a venv's) as {canonical name: version}."""
    out: dict[str, str] = {}
    for line in freeze:
        name, sep, version = line.partition("==")
        if sep and " @ " not in line:
            out[canonical(name.strip())] = version.strip()
    return out


def own_pins(checkout: Path, catalog: CatalogPackage) -> dict[str, str]:
    """The web UI's ``name==version`` requirement lines (markers and comments dropped)."""
    from packaging.requirements import InvalidRequirement, Requirement

    pins: dict[str, str] = {}
    for rel in catalog.requirements:
        try:
            text = (checkout / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            specs = list(req.specifier)
            if len(specs) == 1 and specs[0].operator in ("==", "===") \
                    and "*" not in specs[0].version:
                pins[canonical(req.name)] = specs[0].version
    return pins


def protected_pins(package: str, checkout: Path, catalog: CatalogPackage,
                   installed: list[str], *, own_too: bool = True) -> ProtectedPins:
    """The pins for ``package`` given what its venv holds (``installed``: freeze lines).

    ``own_too=False``: only the torch family (while the web UI's own requirements go in)."""
    have = freeze_versions(installed)
    pins = [Pin(name, have[name], "the torch build") for name in TORCH_FAMILY if name in have]
    if own_too:
        own = own_pins(checkout, catalog)
        for name in CORE:
            if name in have and own.get(name, have[name]) == have[name]:
                pins.append(Pin(name, have[name], f"{package}'s core {name}"))
        for name, version in sorted(own.items()):
            if name in TORCH_FAMILY or name in CORE:
                continue
            if have.get(name) == version:
                pins.append(Pin(name, version, f"{package}'s own pin"))
    fixes = tuple(c for fix in catalog.known_fixes for c in fix.constraints)
    return ProtectedPins(package, tuple(pins), fixes)


# --- who asked for what ---------------------------------------------------------------------
@dataclass(frozen=True)
class PinRequest:
    """An extension asked for something a protected pin excludes; the pin was kept."""

    requester: str  # the extension (or "forge's own installer")
    asked: str  # the requirement: "numpy>=2"
    kept: Pin
    via: str | None = None  # the dependency that carries it: "mediapipe 1.2.3"

    def describe(self) -> str:
        through = f" (through {self.via})" if self.via else ""
        return (f"{self.requester} asked for {self.asked}{through}; kept {self.kept.line} "
                f"({self.kept.why})")


@dataclass(frozen=True)
class FilteredRequirements:
    text: str  # the requirement file without the contradicting lines
    refused: tuple[PinRequest, ...]


def filter_requirements(path: Path, pins: ProtectedPins, requester: str) -> FilteredRequirements:
    """Leave out requirement lines that contradict a pin (the rest still installs). Relative
    ``-r``/``-c`` includes are made absolute, since the filtered copy lives elsewhere."""
    from packaging.requirements import InvalidRequirement, Requirement

    out: list[str] = []
    refused: list[PinRequest] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.startswith(("-r ", "-c ", "--requirement ", "--constraint ")):
            flag, _, rel = line.partition(" ")
            target = Path(rel.strip())
            out.append(f"{flag} {target if target.is_absolute() else path.parent / target}")
            continue
        if not line or line.startswith("-"):
            out.append(raw)
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            out.append(raw)
            continue
        pin = pins.get(req.name)
        if pin is not None and req.specifier and not req.specifier.contains(
                pin.version, prereleases=True):
            refused.append(PinRequest(requester, line, pin))
            continue
        out.append(raw)
    return FilteredRequirements("\n".join(out) + "\n", tuple(refused))


_CONSTRAINT_LINE = re.compile(r"The user requested \(constraint\) ([A-Za-z0-9_.\-]+)==(\S+)")
_ASKED_LINE = re.compile(r"^\s*(The user requested (?!\(constraint\))(.+)|"
                         r"([A-Za-z0-9_.\-]+ \S+ depends on (.+)))$")


# uv: "Because all versions of smx-greedy depend on smx-core>=2 and smx-core==1.0, …",
# "Because smx-greedy==1.0 depends on smx-core>=2 and you require smx-core==1.0, …"
_UV_DEPENDS = re.compile(r"(?:all versions of |only )?([A-Za-z0-9_.\-]+(?:[=<>!~]=?[^\s,]+)?) "
                         r"depends? on ([A-Za-z0-9_.\-]+[=<>!~][^\s,]*)")


def requests_in_output(output: str, pins: ProtectedPins, requester: str) -> list[PinRequest]:
    """Read the resolver's account of a conflict (pip: "The conflict is caused by:", uv:
    "Because X depends on Y …"): the requests a protected pin refused."""
    from packaging.requirements import InvalidRequirement, Requirement

    found: list[PinRequest] = []
    for sentence in re.findall(r"Because [^.]*", " ".join(output.split())):
        for match in _UV_DEPENDS.finditer(sentence):
            try:
                req = Requirement(match.group(2).rstrip(".;"))
            except InvalidRequirement:
                continue
            pin = pins.get(req.name)
            if pin is not None and not req.specifier.contains(pin.version, prereleases=True):
                request = PinRequest(requester, str(req), pin, via=match.group(1))
                if request not in found:
                    found.append(request)
    held = {canonical(m.group(1)) for m in _CONSTRAINT_LINE.finditer(output)}
    if not held:
        return found
    for raw in output.splitlines():
        asked = _ASKED_LINE.match(raw)
        if not asked:
            continue
        wanted = (asked.group(2) or asked.group(4) or "").strip()
        try:
            req = Requirement(wanted)
        except InvalidRequirement:
            continue
        key = canonical(req.name)
        pin = pins.get(key)
        if key not in held or pin is None or req.specifier.contains(pin.version,
                                                                    prereleases=True):
            continue
        via = None
        if asked.group(3):
            via = asked.group(3).split(" depends on ", 1)[0].strip()
        request = PinRequest(requester, str(req), pin, via=via)
        if request not in found:
            found.append(request)
    return found
