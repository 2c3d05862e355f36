"""The ``log`` target: one line in the daemon's log (logger ``notify``; alarms at WARNING,
watch matches at INFO)."""

from __future__ import annotations

import logging

from scheduler.monitor.notify.payloads import Payload

logger = logging.getLogger("notify")


class LogChannel:
    def send(self, payload: Payload) -> None:
        logger.log(payload.log_level, "%s", payload.log_line())
