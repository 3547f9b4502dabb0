"""Extensions (A1111/Forge ``extensions/``) and custom nodes (ComfyUI ``custom_nodes/``).

- :mod:`smx.extensions.targets` — an ``[packages.P.extensions]`` entry resolved against the
  catalog: repository, ref, folder, built-in or not.
- :mod:`smx.extensions.shape` — is a checkout an extension of this package's kind?
- :mod:`smx.extensions.installer` — clone, pin, install requirements the way the web UI does,
  update with rollback, remove.
- :mod:`smx.extensions.toggle` — enable/disable the package's own way.
- :mod:`smx.extensions.models` and :mod:`smx.extensions.links` — how an extension sees the
  shared model store (its setting, else a link), and the launch wiring contributor.
- :mod:`smx.extensions.executor` — the extensions part of `smx sync`.
- :mod:`smx.extensions.listing` — rows for `smx ext list`.
"""
