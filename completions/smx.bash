# smx bash completion. Generated from smx's Typer app by `python -m smx.cli.completion_scripts`;
# do not edit. Install: see README.md (Shell completion).
_smx_completion() {
    local IFS=$'
'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _SMX_COMPLETE=complete_bash $1 ) )
    return 0
}

complete -o default -F _smx_completion smx
