"""Which code a pickle-capable model file would run when a web UI loads it: an allow-list scan.

A pickle is a program: its GLOBAL / STACK_GLOBAL / INST opcodes import any callable, and
REDUCE calls it. Model files (torch checkpoints, embeddings, diffusers ``.bin``) only need a
known handful: torch's tensor rebuild helpers and storage types, ``collections.OrderedDict``,
numpy's array and scalar reconstructors, ``_codecs.encode``, a few builtins, and the
PyTorch Lightning callback SD 1.x checkpoints carry. Anything else is refused: rating imports
as "dangerous" or "suspicious" leaves every callable nobody listed yet (``code.
InteractiveInterpreter.runsource`` runs code and was only "suspicious" to such a scanner).

Nothing is loaded or imported. The opcodes are walked with :mod:`pickletools` while a model of
the unpickler's stack tracks which strings reach STACK_GLOBAL (through the memo too), so a name
built on the stack is seen like a GLOBAL. What the walk cannot follow is refused, not passed:
an opcode stream pickletools cannot parse (``I0x1`` parses for the C unpickler, which runs
the GLOBAL after it, but not for pickletools), a malformed stack, an EXT opcode (a copyreg
registry entry), trailing bytes after the last pickle.

Formats, by content (the suffix only says whether a file must be one of them):
- a zip (torch >= 1.6 ``torch.save``, ``.pt2`` archives): every ``*.pkl`` member is scanned;
  two members with one name are refused (which one a reader takes is not defined);
- torch's legacy stream: five pickles (magic number, protocol, system info, the object,
  storage keys), then raw storage bytes that are never unpickled;
- any other pickle stream: every pickle in it, to the end of the file;
- a tar archive (torch's oldest format): refused, smx does not read it.
A zip member with a torch.load suffix (``serialized_state_dict.pt`` in older ``.pt2``) is
scanned like a file of its own.
"""

from __future__ import annotations

import pickletools
import struct
import tarfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

# torch's legacy format starts with this number, pickled on its own (torch.serialization)
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PICKLES = 5

_TORCH_REBUILD = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
                  "_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor",
                  "_rebuild_sparse_tensor", "_rebuild_sparse_csr_tensor",
                  "_rebuild_device_tensor_from_numpy", "_rebuild_meta_tensor_no_storage",
                  "_rebuild_wrapper_subclass", "_rebuild_nested_tensor")
_TORCH_STORAGES = tuple(f"{t}Storage" for t in (
    "Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool",
    "ComplexFloat", "ComplexDouble", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4",
    "Untyped", "Typed"))
_TORCH_DTYPES = ("float32", "float", "float16", "half", "bfloat16", "float64", "double",
                 "int64", "long", "int32", "int", "int16", "short", "int8", "uint8", "uint16",
                 "uint32", "uint64", "bool", "complex64", "cfloat", "complex128", "cdouble",
                 "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                 "qint8", "quint8", "qint32", "quint4x2")
_TORCH_OTHER = ("Size", "Tensor", "device", "strided", "sparse_coo", "sparse_csr",
                "per_tensor_affine", "per_channel_affine", "contiguous_format", "channels_last",
                "preserve_format")

ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # how protocol 2 pickles bytes
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"),
    ("builtins", "complex"), ("builtins", "slice"), ("builtins", "object"),
    ("copyreg", "_reconstructor"),  # protocol 0/1 objects; the class is a global of its own
    *(("torch._utils", name) for name in _TORCH_REBUILD),
    ("torch._tensor", "_rebuild_from_type"), ("torch._tensor", "_rebuild_from_type_v2"),
    *(("torch", name) for name in _TORCH_STORAGES + _TORCH_DTYPES + _TORCH_OTHER),
    ("torch.storage", "UntypedStorage"), ("torch.storage", "TypedStorage"),  # e.g. float8
    ("torch.nn.parameter", "Parameter"),
    ("torch.nn.modules.container", "ParameterDict"),
    ("torch.serialization", "_get_layout"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy._core.multiarray", "_reconstruct"),
    # SD 1.x training checkpoints (sd-v1-5.ckpt …) keep the trainer's callback state
    ("pytorch_lightning.callbacks", "model_checkpoint"),
    ("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint"),
})


@dataclass
class PickleScan:
    """What the scan found. ``format`` "none": not a pickle, a zip or a tar at all."""

    format: str  # zip | legacy | pickle | tar | none
    imports: list[str] = field(default_factory=list)  # refused "module.name" globals
    unreadable: str | None = None  # why the opcode walk stopped short
    duplicates: list[str] = field(default_factory=list)  # zip member names seen twice

    @property
    def refusals(self) -> list[str]:
        """Every reason to refuse, short: what a warning lists when the user allowed it."""
        reasons = list(self.imports)
        if self.unreadable:
            reasons.append(f"unreadable pickle ({self.unreadable})")
        reasons += [f"two zip entries named {name}" for name in self.duplicates]
        if self.format == "tar":
            reasons.append("tar archive (not scanned)")
        return reasons

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "imports": self.imports, "unreadable": self.unreadable,
                "duplicates": self.duplicates}

    @classmethod
    def from_json(cls, data: Any) -> PickleScan | None:
        try:
            return cls(str(data["format"]), [str(x) for x in data["imports"]],
                       None if data["unreadable"] is None else str(data["unreadable"]),
                       [str(x) for x in data["duplicates"]])
        except (KeyError, TypeError):
            return None


# suffixes of files a web UI hands to torch.load / pickle.load (ComfyUI's supported_pt_extensions,
# A1111's checkpoint, embedding and upscaler loaders)
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pt2", ".pth", ".bin", ".pkl", ".pickle")
_MAX_NESTING = 3  # zips inside zips (old .pt2 archives hold torch.save files)
_OPCODES = frozenset(op.code for op in pickletools.opcodes)


def sniff(handle: IO[bytes]) -> str:
    """The container format by content: zip | pickle (protocol 2+ header) | tar | opcode (the
    first byte is a pickle opcode: maybe a protocol 0/1 pickle) | none. Reads the head only."""
    handle.seek(0)
    head = handle.read(8)
    handle.seek(0)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    if _is_tar(handle):
        return "tar"
    if head[:1] and head[:1].decode("latin-1") in _OPCODES:
        return "opcode"
    return "none"


def _is_tar(handle: IO[bytes]) -> bool:
    try:
        with tarfile.open(fileobj=handle, mode="r:"):  # what torch's legacy loader tries first
            return True
    except (tarfile.TarError, OSError, ValueError, EOFError):
        return False
    finally:
        handle.seek(0)


def scan(path: Path, *, pickle_suffix: bool) -> PickleScan:
    """Walk every pickle in ``path`` that a loader would run. ``pickle_suffix``: the file's
    name says torch.load/pickle.load (then a protocol 0/1 stream is walked too; otherwise only
    a zip or a protocol 2+ pickle counts as one)."""
    with path.open("rb") as handle:
        return _scan_file(handle, pickle_suffix=pickle_suffix, depth=0)


def _scan_file(handle: IO[bytes], *, pickle_suffix: bool, depth: int, label: str = ""
               ) -> PickleScan:
    kind = sniff(handle)
    if kind == "zip":
        result = PickleScan("zip")
        _scan_zip(handle, result, depth, label)
        return result
    if kind == "tar" and pickle_suffix:
        return PickleScan("tar")
    if kind == "pickle" or (kind == "opcode" and pickle_suffix):
        result = PickleScan("pickle")
        _scan_stream(handle, result, legacy_allowed=True, label=label)
        return result
    return PickleScan("none")


def _scan_zip(handle: IO[bytes], result: PickleScan, depth: int, label: str) -> None:
    prefix = f"{label}:" if label else ""
    try:
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
            counts = Counter(info.filename for info in infos)
            result.duplicates += sorted(prefix + name for name, n in counts.items() if n > 1)
            for info in infos:
                lower = info.filename.lower()
                if info.is_dir() or not lower.endswith(PICKLE_SUFFIXES):
                    continue
                with archive.open(info) as member:
                    if lower.endswith(".pkl"):
                        _scan_stream(member, result, legacy_allowed=False,
                                     label=prefix + info.filename)
                    elif depth < _MAX_NESTING:  # a torch.save file kept inside the archive
                        _merge(result, _scan_file(member, pickle_suffix=True, depth=depth + 1,
                                                  label=prefix + info.filename))
                    else:
                        result.unreadable = f"{prefix}{info.filename}: archives nested too deep"
                if result.unreadable:
                    return
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, OSError,
            NotImplementedError, EOFError, ValueError) as exc:
        result.unreadable = f"{prefix or 'the '}zip archive is damaged ({exc})"


def _merge(into: PickleScan, other: PickleScan) -> None:
    into.imports += [name for name in other.imports if name not in into.imports]
    into.duplicates += other.duplicates
    into.unreadable = into.unreadable or other.unreadable
    if other.format == "tar":
        into.unreadable = into.unreadable or "a tar archive inside the zip archive"


def _scan_stream(handle: IO[bytes], result: PickleScan, *, legacy_allowed: bool,
                 label: str = "") -> None:
    """Every pickle of the stream, one after the other, to its end (a legacy torch file: its
    five pickles; the raw bytes after them are storage data)."""
    where = f"{label} " if label else ""
    index = 0
    legacy = False
    while True:
        start = handle.tell()
        if not handle.read(1):
            return
        handle.seek(start)
        try:
            ints = _walk(handle, result)
        except _Unreadable as exc:
            result.unreadable = f"{where}near byte {start + exc.offset}: {exc.why}"
            return
        if index == 0 and legacy_allowed and ints == [LEGACY_MAGIC]:
            legacy = True
        index += 1
        if legacy and index == LEGACY_PICKLES:
            return


class _Unreadable(Exception):
    def __init__(self, offset: int, why: str) -> None:
        super().__init__(why)
        self.offset = offset
        self.why = why


_MARK = object()
_UNKNOWN = object()
_STRING_OPS = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE",
                         "BINUNICODE", "BINUNICODE8"})
_INT_OPS = frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"})
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def _walk(handle: IO[bytes], result: PickleScan) -> list[int]:
    """One pickle, up to its STOP: record the globals it refers to. Returns the integers it
    pushes when it holds nothing else (how the legacy magic number is recognised)."""
    stack: list[object] = []
    memo: dict[int, object] = {}
    proto = 0
    ints: list[int] = []
    only_ints = True
    base = handle.tell()
    ops = pickletools.genops(handle)
    while True:
        try:
            op, arg, pos = next(ops)
        except StopIteration:
            raise _Unreadable(handle.tell() - base, "ends without STOP") from None
        except (ValueError, EOFError, OverflowError, struct.error) as exc:  # bad bytes
            raise _Unreadable(handle.tell() - base, str(exc) or type(exc).__name__) from exc
        offset = (pos or 0) - base
        name = op.name
        number = arg if isinstance(arg, int) else 0  # the integer argument, where there is one
        if name == "PROTO":
            proto = number
        elif name in _INT_OPS and not isinstance(arg, bool):
            ints.append(number)
        elif name not in ("STOP", "FRAME"):
            only_ints = False
        if name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            _check(module, attr, proto, result)
        elif name == "STACK_GLOBAL":
            attr_v, module_v = _pop(stack, offset), _pop(stack, offset)
            if isinstance(module_v, str) and isinstance(attr_v, str):
                _check(module_v, attr_v, proto, result)
            else:
                result.imports.append("<a name built on the stack>")
        elif name.startswith("EXT"):
            result.imports.append(f"<copyreg extension {arg}>")
        if name in _PUT_OPS or name == "MEMOIZE":
            if not stack or stack[-1] is _MARK:
                raise _Unreadable(offset, f"{name} with nothing to memoize")
            memo[number if name != "MEMOIZE" else len(memo)] = stack[-1]
            continue
        if name in _GET_OPS:
            stack.append(memo.get(number, _UNKNOWN))
            continue
        if name == "DUP":
            top = _pop(stack, offset)
            stack += [top, top]
            continue
        if name != "STACK_GLOBAL":
            _pop_before(stack, op, offset)
        if name == "STOP":
            return ints if only_ints else []
        for item in op.stack_after:
            if item is pickletools.markobject:
                stack.append(_MARK)
            elif name in _STRING_OPS and isinstance(arg, str):
                stack.append(arg)
            else:
                stack.append(_UNKNOWN)


def _pop(stack: list[object], offset: int) -> object:
    if not stack or stack[-1] is _MARK:
        raise _Unreadable(offset, "stack underflow")
    return stack.pop()


def _pop_before(stack: list[object], op: Any, offset: int) -> None:
    """Take what ``op`` consumes off the modelled stack, as the unpickler would."""
    before = list(op.stack_before)
    if pickletools.markobject in before:
        at = before.index(pickletools.markobject)
        need = len(before) - at - 2  # items the slice must hold (OBJ's class)
        count = 0
        while stack and stack[-1] is not _MARK:
            stack.pop()
            count += 1
        if not stack or count < need:
            raise _Unreadable(offset, f"{op.name} without its MARK")
        stack.pop()
        before = before[:at]
    for _ in before:
        _pop(stack, offset)


def _check(module: str, name: str, proto: int, result: PickleScan) -> None:
    if proto < 3:  # the unpickler maps Python 2 names (fix_imports) for these protocols
        import _compat_pickle

        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    if (module, name) not in ALLOWED_GLOBALS:
        dotted = f"{module}.{name}"
        if dotted not in result.imports:
            result.imports.append(dotted)
