"""tool's plugin protocol: the wire format, the plugin SDK and test helpers.

Protocol v1 is specified in docs/protocol.md; this package implements it.
"""
from __future__ import annotations
