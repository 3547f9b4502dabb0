"""The front door: parses arguments, calls the core, renders results. No logic here."""
