"""What the host knows of plugin files: every one on the search path and its problems, what
was learned of each (kept in the private cache), bounded first requests, completion sidecars."""
