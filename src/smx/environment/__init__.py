"""The environment: smx.toml (what the user wants), smx.lock (what was resolved), Data/."""
