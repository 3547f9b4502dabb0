"""Pickles written opcode by opcode, clean and hostile, for the scan's tests. None of them is
ever unpickled by the tests, except the harmless twins that prove a trick really works.

A model file's pickle needs torch's globals, which a test cannot import (no torch here), so
they are assembled by hand: ``g("torch._utils", "_rebuild_tensor_v2")`` is a GLOBAL opcode.
"""

from __future__ import annotations

import io
import struct
import tarfile
import warnings
import zipfile

PROTO2 = b"\x80\x02"
MARK, TUPLE, REDUCE, STOP, SETITEM = b"(", b"t", b"R", b".", b"s"
EMPTY_TUPLE, EMPTY_DICT, BINPERSID, NEWFALSE = b")", b"}", b"Q", b"\x89"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def g(module: str, name: str) -> bytes:
    """GLOBAL module.name"""
    return b"c" + f"{module}\n{name}\n".encode()


def u(text: str) -> bytes:
    """SHORT_BINUNICODE text"""
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def k(n: int) -> bytes:
    """BININT1 n"""
    return b"K" + bytes([n])


def tensor(key: str, storage_type: tuple[str, str] = ("torch", "FloatStorage")) -> bytes:
    """One ``key: tensor`` item the way torch.save writes it: a storage by persistent id,
    rebuilt by torch._utils._rebuild_tensor_v2 (SETITEM into the dict below it). torch 2.13
    names float8 storages torch.storage.UntypedStorage."""
    storage = MARK + u("storage") + g(*storage_type) + u(key) + u("cpu") + k(4) \
        + TUPLE + BINPERSID
    hooks = g("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE
    args = MARK + storage + k(0) + MARK + k(4) + TUPLE + MARK + k(1) + TUPLE + NEWFALSE \
        + hooks + TUPLE
    return u(key) + g("torch._utils", "_rebuild_tensor_v2") + args + REDUCE + SETITEM


def state_dict_pickle(*keys: str, float8: bool = False) -> bytes:
    """A clean torch state dict: OrderedDict of tensors."""
    body = g("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE
    for key in keys or ("weight",):
        body += tensor(key)
    if float8:
        body += tensor("f8", ("torch.storage", "UntypedStorage"))
    return PROTO2 + body + STOP


def call_pickle(module: str, name: str, arg: str = "echo pwned") -> bytes:
    """module.name(arg) by GLOBAL + REDUCE: the classic payload."""
    return PROTO2 + g(module, name) + MARK + u(arg) + TUPLE + REDUCE + STOP


def stack_global_via_memo(module: str, name: str) -> bytes:
    """The name built on the stack from memoised strings, then STACK_GLOBAL."""
    return (PROTO2 + u(module) + b"q\x00" + u(name) + b"q\x01" + b"0" + b"0"  # put, pop both
            + b"h\x00" + b"h\x01" + b"\x93" + MARK + u("echo pwned") + TUPLE + REDUCE + STOP)


def int_base0_then_global(module: str, name: str, arg: str = "echo pwned") -> bytes:
    """``I0x1``: the C unpickler reads it (base 0), pickletools cannot; the GLOBAL after it is
    then invisible to a pickletools-based scanner while pickle.loads runs it."""
    return (b"I0x1\n" + b"0" + g(module, name) + MARK + b"S'" + arg.encode() + b"'\n" + TUPLE
            + REDUCE + STOP)


def ext_opcode() -> bytes:
    """EXT1: a callable from copyreg's extension registry, not named in the pickle at all."""
    return PROTO2 + b"\x82\x01" + MARK + u("x") + TUPLE + REDUCE + STOP


def legacy_torch(obj_pickle: bytes, raw: bytes = b"\x00" * 64) -> bytes:
    """torch's legacy format: magic, protocol, sys info, the object, storage keys, raw data."""
    magic = PROTO2 + b"\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little") + STOP
    protocol = PROTO2 + b"M" + struct.pack("<H", 1001) + STOP
    sys_info = PROTO2 + EMPTY_DICT + STOP
    keys = PROTO2 + b"]" + STOP
    return magic + protocol + sys_info + obj_pickle + keys + raw


def torch_zip(members: dict[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    """A zip as torch.save writes it (stored, ``archive/`` prefix); a list may repeat a name."""
    items = list(members.items()) if isinstance(members, dict) else members
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name: that is the point
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in items:
                archive.writestr(name, data)
    return buf.getvalue()


def checkpoint(pkl: bytes, *, pad: int = 64) -> bytes:
    return torch_zip({"archive/data.pkl": pkl, "archive/version": b"3\n",
                      "archive/data/0": b"\x00" * pad})


def tar_with(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()
