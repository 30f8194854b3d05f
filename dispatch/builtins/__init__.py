"""Builtin commands, one module each: `run(dispatcher, args) -> int`. They always win over plugins."""
