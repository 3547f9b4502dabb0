"""Web UI packages: git checkouts (git.py), their venvs (venv.py), torch (torch.py), the install
flow (installer.py) and the sync executor that plans it (executor.py)."""
