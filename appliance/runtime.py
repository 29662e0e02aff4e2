"""Process set-up shared by every entry point: settings, logging, the database."""

from __future__ import annotations

import logging
import logging.handlers

from appliance.settings import Settings, load_settings

_settings: Settings | None = None

# Libraries' loggers, held above the level they would leak or flood at, whatever log_level says:
# aiosmtpd (the demo's mail catcher) logs every sender and recipient address at INFO and the mail
# itself at DEBUG; fontTools a dozen lines for every printed list; peewee every query at DEBUG.
LIBRARY_LEVELS = {"mail.log": logging.WARNING, "mail.debug": logging.WARNING, "fontTools": logging.WARNING,
                  "peewee": logging.INFO}


def settings() -> Settings:
    """The settings of this process (loaded on first use when no entry point configured them)."""
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def configure(new: Settings) -> Settings:
    global _settings
    _settings = new
    return new


def setup_logging(settings: Settings, *, to_file: bool = True) -> None:
    """Log lines carry ids and outcomes, never personal data (a test greps the logs for canaries)."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if to_file and settings.data_dir.exists():
        settings.log_dir.mkdir(mode=0o750, exist_ok=True)
        handlers.append(logging.handlers.WatchedFileHandler(settings.log_dir / "madoguchi.log", encoding="utf-8"))
    logging.basicConfig(level=settings.log_level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name, level in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(level)
