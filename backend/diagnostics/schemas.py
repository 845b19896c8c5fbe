from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel


class PingRead(BaseModel):
    id: uuid.UUID
    status: Literal["queued", "processed"]
    requested_at: datetime
    processed_at: datetime | None
    worker_pid: int | None
