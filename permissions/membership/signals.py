"""What membership tells the rest of the house, which it may not import.

`channel_key_retired` is sent, inside the transaction of the change, whenever the
channel's current key must not encrypt anything new (SPEC §5): someone who held it lost
access (an institution removed, a user banned or deactivated, a moderator dismissed,
an institution switched off), or an institution joined a `since_join` channel and must
receive only the next key. the keys live in channels_app, which listens (channels_app/keys/
receivers.py) and marks the current epoch stale in the same transaction. A signal and
not an import, because `permissions` sits below `channels_app` (pyproject.toml's
import-linter contracts).

Arguments: `channel`, `actor` (a User, or None for the platform) and `reason`.
"""

from __future__ import annotations

from django.dispatch import Signal

channel_key_retired = Signal()
