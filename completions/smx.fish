# smx fish completion. Generated from smx's Typer app by `python -m smx.cli.completion_scripts`;
# do not edit. Install: see README.md (Shell completion).
complete --command smx --no-files --arguments "(env _SMX_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args _TYPER_COMPLETE_ARGS=(commandline -cp) smx)" --condition "env _SMX_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=is-args _TYPER_COMPLETE_ARGS=(commandline -cp) smx"
