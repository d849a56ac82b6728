"""The base of every input shape a client sends, over HTTP and the socket alike.

Unknown fields are refused (no mass assignment: nobody smuggles in `admitted_by` or
`state`). Each field picks its own strict type (StrictStr, StrictInt), so `"body": 5` is an
error, not "5".
"""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")
