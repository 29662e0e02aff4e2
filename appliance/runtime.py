"""Process set-up shared by every entry point: settings, logging, the database."""

from __future__ import annotations

import datetime
import gzip
import logging
import logging.handlers
import os
import shutil
import time

from appliance.settings import Settings, load_settings

_settings: Settings | None = None
LOG_FILE = "madoguchi.log"

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
        handlers.append(logging.handlers.WatchedFileHandler(settings.log_dir / LOG_FILE, encoding="utf-8"))
    logging.basicConfig(level=settings.log_level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name, level in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(level)


def rotate_logs(settings: Settings, now: datetime.datetime) -> list[str]:
    """The nightly rotation: madoguchi.log is renamed madoguchi-YYYYMMDD-HHMMSS.log (every process's
    WatchedFileHandler sees the rename at its next line and opens a new madoguchi.log, so no line is
    lost: one in flight lands in the renamed file); files renamed on an earlier night and untouched
    for an hour are gzipped (nobody writes to them any more), and those older than log_keep_days deleted. Returns what it did."""
    folder, done = settings.log_dir, []
    current = folder / LOG_FILE
    for path in sorted(folder.glob("madoguchi-*.log")):
        if time.time() - path.stat().st_mtime < 3600:
            continue  # renamed lately: a process may not have seen it yet
        with open(path, "rb") as source, gzip.open(path.with_name(path.name + ".gz"), "wb") as target:
            shutil.copyfileobj(source, target)
        path.unlink()
        done.append(f"compressed {path.name}")
    cutoff = now.timestamp() - settings.log_keep_days * 86400
    for path in sorted(folder.glob("madoguchi-*.log.gz")):
        if path.stat().st_mtime < cutoff:
            path.unlink()
            done.append(f"deleted {path.name}")
    if current.exists() and current.stat().st_size:
        rotated = folder / f"madoguchi-{now.astimezone(datetime.UTC):%Y%m%d-%H%M%S}.log"
        os.rename(current, rotated)
        done.append(f"rotated to {rotated.name}")
    return done
