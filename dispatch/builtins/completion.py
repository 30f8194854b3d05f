"""`tool completion bash|zsh|fish`: a script to source that completes tool's commands and plugins."""
from __future__ import annotations

import sys

from dispatch import commands
from dispatch.errors import usage_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation

_BASH = """\
# bash completion for {prog}. Enable with:  source <({prog} completion bash)
# or save it:  {prog} completion bash > ~/.local/share/bash-completion/completions/{prog}
{func}() {{
    # The line itself goes to {prog}, which splits it as bash will run it (bash's own words break
    # at = and :), and answers with one candidate a line, ready to insert, then `:N` (bit 2: no
    # space after it; bit 4: no file names instead).
    local line directive=0
    COMPREPLY=()
    while IFS= read -r line; do
        if [[ $line == :* ]]; then
            directive=${{line#:}}
        elif [[ -n $line ]]; then
            COMPREPLY+=("$line")
        fi
    done < <("${{COMP_WORDS[0]}}" __complete --shell bash --line "$COMP_LINE" --point "$COMP_POINT" \\
             --wordbreaks "$COMP_WORDBREAKS" 2>/dev/null)
    if (( directive & 2 )); then
        compopt -o nospace 2>/dev/null
    fi
    if (( directive & 128 )); then
        compopt -o filenames 2>/dev/null  # shown as they are, quoted when inserted
    fi
    if (( directive & 4 )) && (( ${{#COMPREPLY[@]}} == 0 )); then
        compopt +o default +o bashdefault 2>/dev/null
    fi
}}
complete -o default -o bashdefault -F {func} {prog}
"""

_ZSH = """\
#compdef {prog}
# zsh completion for {prog}. Enable with:  source <({prog} completion zsh)
# or save it as _{prog} in a directory of your $fpath.
{func}() {{
    local -a candidates suffix
    local line directive=0
    for line in "${{(@f)$(${{words[1]}} __complete --shell zsh -- "${{(@)words[2,CURRENT]}}" 2>/dev/null)}}"; do
        if [[ $line == :* ]]; then
            directive=${{line#:}}
        elif [[ -n $line ]]; then
            candidates+=("$line")
        fi
    done
    (( directive & 2 )) && suffix=(-S '')
    if (( ${{#candidates}} )); then
        _describe '{prog}' candidates $suffix
    elif ! (( directive & 4 )); then
        _files
    fi
}}
if [[ ${{funcstack[1]}} == _{prog} ]]; then
    {func} "$@"  # autoloaded from $fpath as _{prog} on the first Tab: complete now, not on the next one
elif (( $+functions[compdef] )); then
    compdef {func} {prog}
fi
"""

_FISH = """\
# fish completion for {prog}. Enable with:  {prog} completion fish | source
# or save it:  {prog} completion fish > ~/.config/fish/completions/{prog}.fish
function {func}
    set -l words (commandline -opc) (commandline -ct)
    set -l found ({prog} __complete --shell fish -- $words[2..-1] 2>/dev/null)
    set -l directive 0
    if string match -qr '^:[0-9]+$' -- $found[-1]
        set directive (string sub -s 2 -- $found[-1])
        set -e found[-1]
    end
    if test (count $found) -gt 0
        printf '%s\n' $found
    else if test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path (commandline -ct)
    end
end
complete -c {prog} -f -a '({func})'
"""

SCRIPTS = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}


def script(prog: str, shell: str) -> str:
    func = "_" + "".join(c if c.isalnum() else "_" for c in prog) + "_complete"
    return SCRIPTS[shell].format(prog=prog, func=func)


def run(inv: Invocation, args: list[str]) -> int:
    usage = commands.usage("completion", inv.program)
    if len(args) != 1 or args[0] in ("-h", "--help"):
        if args[:1] in (["-h"], ["--help"]):
            sys.stdout.write(f"usage: {inv.prog} {usage}\n")
            return 0
        raise usage_error(f"completion: name a shell: {inv.prog} {usage}")
    if args[0] not in SCRIPTS:
        raise usage_error(f"completion: no completion for {args[0]!r}; choose bash, zsh or fish")
    sys.stdout.write(script(inv.prog, args[0]))
    return 0
