"""Scripts smx runs *inside* a web UI's venv to start its loader headless (no server, no
model): they import only the web UI's own modules and the standard library, and print one
``SMX-LOAD-CHECK: {json}`` line with what failed to load."""
