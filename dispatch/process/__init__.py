"""Processes and descriptors, below any policy: starting a plugin (posix_spawn, its guard, the
one stop-and-reap), waiting on descriptors, and the user's terminal (ownership, hand-over)."""
