"""Where NVIDIA GPU facts come from: the NVML library (through pynvml), or a recording of it.

:class:`NvmlSource` is the handful of NVML calls smx makes. :class:`PynvmlSource` forwards them
to pynvml and does nothing else, so everything worth testing (what a missing library means,
which torch build a compute capability needs) lives in ``gpu.py`` and ``advice.py`` and runs
against :class:`RecordedNvml` in tests — this machine and CI have no GPU.

Testing aid: ``SMX_NVML_RECORDING=/path/answers.json`` makes smx read NVML answers from that
file instead of the real library (see tests/doctor/nvml/ for the format; ``python -m
smx.system.nvml`` records the real answers of a machine into that format).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Protocol

RECORDING_ENV = "SMX_NVML_RECORDING"

# NVML return codes smx tells apart (nvml.h, nvmlReturn_t); PYNVML_MISSING is smx's own.
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
PYNVML_MISSING = -1


class NvmlError(Exception):
    """An NVML call failed; ``code`` is NVML's return code (or PYNVML_MISSING)."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NvmlSource(Protocol):
    """The NVML calls smx makes, one method per call, answers as plain Python values."""

    def init(self) -> None: ...

    def shutdown(self) -> None: ...

    def driver_version(self) -> str: ...

    def cuda_driver_version(self) -> int:
        """As NVML reports it: 12080 means CUDA 12.8."""
        ...

    def device_count(self) -> int: ...

    def device_name(self, index: int) -> str: ...

    def device_memory(self, index: int) -> tuple[int, int]:
        """(total, free) in bytes."""
        ...

    def device_compute_capability(self, index: int) -> tuple[int, int]: ...


class PynvmlSource:
    """The real library. Kept as a straight translation of pynvml; no decisions here."""

    def __init__(self) -> None:
        self._nvml: Any = None

    def init(self) -> None:
        import warnings

        try:
            with warnings.catch_warnings():
                # the deprecated `pynvml` distribution warns on import; the module is the same
                warnings.simplefilter("ignore", FutureWarning)
                import pynvml
        except ImportError as exc:
            raise NvmlError(PYNVML_MISSING, f"pynvml is not installed ({exc})") from None
        self._nvml = pynvml
        self._call(pynvml.nvmlInit)

    def shutdown(self) -> None:
        if self._nvml is not None:
            self._call(self._nvml.nvmlShutdown)

    def driver_version(self) -> str:
        return _text(self._call(self._nvml.nvmlSystemGetDriverVersion))

    def cuda_driver_version(self) -> int:
        return int(self._call(self._nvml.nvmlSystemGetCudaDriverVersion))

    def device_count(self) -> int:
        return int(self._call(self._nvml.nvmlDeviceGetCount))

    def device_name(self, index: int) -> str:
        return _text(self._call(self._nvml.nvmlDeviceGetName, self._handle(index)))

    def device_memory(self, index: int) -> tuple[int, int]:
        info = self._call(self._nvml.nvmlDeviceGetMemoryInfo, self._handle(index))
        return int(info.total), int(info.free)

    def device_compute_capability(self, index: int) -> tuple[int, int]:
        major, minor = self._call(self._nvml.nvmlDeviceGetCudaComputeCapability,
                                  self._handle(index))
        return int(major), int(minor)

    def _handle(self, index: int) -> Any:
        return self._call(self._nvml.nvmlDeviceGetHandleByIndex, index)

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._nvml.NVMLError as exc:
            raise NvmlError(getattr(exc, "value", None), str(exc)) from None


def _text(value: str | bytes) -> str:
    # pynvml < 11.5 returned bytes
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class RecordedNvml:
    """NVML answers read from a JSON recording (tests, and bug reports from users' machines).

    Any answer may be ``{"nvml_error": CODE, "message": "..."}``: the call then fails the way
    the real library would.
    """

    def __init__(self, answers: dict[str, Any], origin: str = "recording") -> None:
        self.answers = answers
        self.origin = origin

    @classmethod
    def load(cls, path: Path) -> RecordedNvml:
        from smx.errors import UsageError

        try:
            answers = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{RECORDING_ENV}={path}: cannot read the NVML recording ({exc})",
                             hint=f"unset {RECORDING_ENV}; it is a testing aid") from None
        if not isinstance(answers, dict):
            raise UsageError(f"{RECORDING_ENV}={path}: expected a JSON object",
                             hint="see tests/doctor/nvml/*.json for the format")
        return cls(answers, origin=str(path))

    def init(self) -> None:
        self._answer("init_error", None)

    def shutdown(self) -> None:
        pass

    def driver_version(self) -> str:
        return str(self._answer("driver_version"))

    def cuda_driver_version(self) -> int:
        return int(self._answer("cuda_driver_version"))

    def device_count(self) -> int:
        return len(self._devices())

    def device_name(self, index: int) -> str:
        return str(self._device_answer(index, "name"))

    def device_memory(self, index: int) -> tuple[int, int]:
        memory = self._device_answer(index, "memory")
        return int(memory["total"]), int(memory["free"])

    def device_compute_capability(self, index: int) -> tuple[int, int]:
        major, minor = self._device_answer(index, "compute_capability")
        return int(major), int(minor)

    def _devices(self) -> list[dict[str, Any]]:
        devices = self._answer("devices", [])
        return list(devices)

    def _device_answer(self, index: int, key: str) -> Any:
        devices = self._devices()
        if not 0 <= index < len(devices):
            raise NvmlError(2, "Invalid Argument")
        return _raise_if_error(devices[index].get(key, {"nvml_error": NVML_ERROR_NOT_SUPPORTED,
                                                        "message": "Not Supported"}))

    def _answer(self, key: str, default: Any = ...) -> Any:
        if key == "init_error":
            error = self.answers.get("init_error")
            if error:
                _raise_if_error(error)
            return None
        if key not in self.answers:
            if default is ...:
                raise NvmlError(NVML_ERROR_NOT_SUPPORTED, "Not Supported")
            return default
        return _raise_if_error(self.answers[key])


def _raise_if_error(value: Any) -> Any:
    if isinstance(value, dict) and "nvml_error" in value:
        raise NvmlError(value["nvml_error"], str(value.get("message", "NVML error")))
    return value


def default_source() -> NvmlSource:
    """The real library, unless the SMX_NVML_RECORDING testing aid names a recording."""
    recording = os.environ.get(RECORDING_ENV)
    if recording:
        return RecordedNvml.load(Path(recording))
    return PynvmlSource()


def record(source: NvmlSource) -> dict[str, Any]:
    """Every answer smx would ask ``source`` for, in RecordedNvml's format."""

    def attempt(fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except NvmlError as exc:
            return {"nvml_error": exc.code, "message": exc.message}

    try:
        source.init()
    except NvmlError as exc:
        return {"init_error": {"nvml_error": exc.code, "message": exc.message}}
    try:
        count = attempt(source.device_count)
        devices = []
        for index in range(count if isinstance(count, int) else 0):
            memory = attempt(source.device_memory, index)
            devices.append({
                "name": attempt(source.device_name, index),
                "memory": ({"total": memory[0], "free": memory[1]}
                           if isinstance(memory, tuple) else memory),
                "compute_capability": attempt(source.device_compute_capability, index),
            })
        return {
            "driver_version": attempt(source.driver_version),
            "cuda_driver_version": attempt(source.cuda_driver_version),
            "devices": devices,
        }
    finally:
        with contextlib.suppress(NvmlError):
            source.shutdown()


if __name__ == "__main__":  # python -m smx.system.nvml > my-gpu.json
    print(json.dumps(record(PynvmlSource()), indent=2))
