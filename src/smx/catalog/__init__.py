"""What smx knows about web UIs, extensions and model kinds, kept as data."""
