"""Gunicorn's own messages (start, worker boot and exit, timeouts) in the app's log format."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger


def logger_class(formatter: logging.Formatter) -> type[Any]:
    """Return a gunicorn logger class whose handlers use ``formatter``."""

    class UpstanderLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(formatter)

    return UpstanderLogger
