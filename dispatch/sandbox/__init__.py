"""Confining a plugin by the kernel (`--sandbox`, docs/sandbox.md): the policies, how they
combine and what they give a run (policy.py), the mechanisms (Linux: Landlock and a seccomp
filter, linux.py; macOS: a Seatbelt profile, seatbelt.py), and `confine`, the one entry point
that applies them, with a run's private TMPDIR (confine.py).

Imported only when a policy applies: the start-up path of an unconfined command never loads it.
Few modules, on purpose: each costs a sandboxed command's start-up a tenth of a millisecond.
"""
