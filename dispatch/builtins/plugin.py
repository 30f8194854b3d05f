"""`tool plugin SUBCOMMAND`: install, list, upgrade, remove and lock plugins
(dispatch/install/), and check one against the protocol (dispatch/builtins/check.py)."""
from __future__ import annotations

import sys

from dispatch import commands
from dispatch.errors import usage_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dispatch.context import Invocation


def run(inv: Invocation, args: list[str]) -> int:
    usage = f"usage: {inv.prog} {commands.plugin_usage(inv.prog)}\n"
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(usage)
        return 0
    if not args:
        raise usage_error(f"plugin: name a subcommand ({', '.join(commands.PLUGIN_COMMANDS)}); see '{inv.prog} help plugin'")
    command, rest = args[0], args[1:]
    if command not in commands.PLUGIN_COMMANDS:
        raise usage_error(f"plugin: unknown subcommand {command!r}; see '{inv.prog} help plugin'")
    if command == "check":
        from dispatch.builtins import check

        return check.run(inv, rest)
    if any(a in ("-h", "--help") for a in rest):
        sys.stdout.write(usage)
        return 0
    return _manage(inv, command, rest)


def _manage(inv: Invocation, command: str, args: list[str]) -> int:
    """install, list, upgrade, remove, lock: dispatch/install/manage.py and upgrade.py."""
    from dispatch.install import manage, run

    values, flags, names = manage.parse(inv, command, args)
    if command in ("upgrade", "remove"):
        manage.check_names(names)
    as_json = inv.options.json or "--json" in flags
    if command == "install":
        return run.command(lambda: manage.install(inv, values, flags, names, as_json))
    if command == "upgrade":
        from dispatch.install import upgrade

        if not names and "--all" not in flags:
            raise usage_error(f"plugin upgrade: name the plugins, or --all; see '{inv.prog} help plugin'")
        return run.command(lambda: upgrade.upgrade(inv, names, all_="--all" in flags, dry_run="--dry-run" in flags, as_json=as_json))
    if command == "remove":
        if not names:
            raise usage_error(f"plugin remove: name the plugins to remove; see '{inv.prog} help plugin'")
        return run.command(lambda: manage.remove(inv, names, as_json))
    manage.no_names(inv, command, names)
    return manage.list_installed(inv, as_json) if command == "list" else manage.lock(inv, as_json)
