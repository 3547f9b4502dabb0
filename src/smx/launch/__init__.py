"""`smx launch`: turn an installed package into a command line and start it.

- :mod:`smx.launch.argv` — which package, the argv, the environment, the warnings (a plan).
- :mod:`smx.launch.wiring` — how each package sees the shared model store (flags, ComfyUI's
  extra_model_paths yaml, Fooocus's config.txt), extensible per package kind and extension.
- :mod:`smx.launch.preflight` — fast checks before starting (installed, locked commit, venv,
  models, port).
- :mod:`smx.launch.execute` — write the generated files, then replace smx with the UI.
"""
