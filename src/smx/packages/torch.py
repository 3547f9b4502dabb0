"""Torch for a package venv: which build (smx.system.advice.torch_choice decides) and the pip
arguments that install it.

The index goes in as ``--extra-index-url`` (what A1111's own TORCH_COMMAND does): the user's
index (a mirror in ``PIP_INDEX_URL``) stays primary for everything else, and the pinned
``torch==X`` resolves to the index's ``X+cu121``/``X+cpu`` build, which sorts above PyPI's
plain ``X``. ``[torch] index = "pip"`` (or ``SMX_TORCH_INDEX=pip``) passes no index option at
all: pip's configuration decides (a mirror that carries torch, a local wheel folder).
"""

from __future__ import annotations

from dataclasses import dataclass

from smx.catalog.packages import CatalogPackage


@dataclass(frozen=True)
class TorchPlan:
    backend: str  # what torch runs on: cuda | rocm | cpu | mps
    backend_key: str  # the catalog recipe: cuda | cuda-blackwell | cuda-legacy | rocm | cpu | mps
    requirements: tuple[str, ...]
    index_url: str | None  # None: no index option (pip's own configuration)
    reason: str
    warning: str | None = None

    def pip_args(self) -> list[str]:
        args = list(self.requirements)
        if self.index_url:
            args += ["--extra-index-url", self.index_url]
        return args


def plan_torch(package: CatalogPackage, backend: str, index: str) -> TorchPlan:
    """``backend``: auto | cuda | rocm | cpu | mps (the package's own setting or ``[torch]
    backend``); ``index``: ``[torch] index`` (SMX_TORCH_INDEX overrides it)."""
    from smx.system.advice import torch_choice
    from smx.system.gpu import probe_gpus

    gpus = probe_gpus()
    choice = torch_choice(package, gpus, backend, index)
    return TorchPlan(backend=choice.backend, backend_key=choice.backend_key,
                     requirements=tuple(choice.recipe.requirements),
                     index_url=choice.index_url, reason=choice.reason, warning=choice.warning)
