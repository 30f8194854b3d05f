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
    # One candidate per line, each quoted for the command line: never split, globbed or expanded.
    local line quoted
    COMPREPLY=()
    while IFS= read -r line; do
        [[ -n $line ]] || continue
        printf -v quoted '%q' "$line"
        COMPREPLY+=("$quoted")
    done < <("${{COMP_WORDS[0]}}" __complete --shell bash -- "${{COMP_WORDS[@]:1:COMP_CWORD}}" 2>/dev/null)
}}
complete -o default -o bashdefault -F {func} {prog}
"""

_ZSH = """\
#compdef {prog}
# zsh completion for {prog}. Enable with:  source <({prog} completion zsh)
# or save it as _{prog} in a directory of your $fpath.
{func}() {{
    local -a candidates
    local line
    for line in "${{(@f)$(${{words[1]}} __complete --shell zsh -- "${{(@)words[2,CURRENT]}}" 2>/dev/null)}}"; do
        [[ -n $line ]] && candidates+=("$line")
    done
    if (( ${{#candidates}} )); then
        _describe '{prog}' candidates
    else
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
    if test (count $found) -gt 0
        printf '%s\n' $found
    else
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
