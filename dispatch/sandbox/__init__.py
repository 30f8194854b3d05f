"""Confining a plugin by the kernel (`--sandbox`, docs/sandbox.md): the policies and how they
combine (policy.py), what a confined run may touch (rules.py) and its private TMPDIR
(tmpdir.py), the mechanisms (Linux: Landlock and a seccomp filter, through kernel.py; macOS:
a Seatbelt profile), and `confine`, the one entry point that applies them (confine.py).

Imported only when a policy applies: the start-up path of an unconfined command never loads it.
"""
