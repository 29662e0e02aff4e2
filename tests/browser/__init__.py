"""Playwright tests: Debian's chromium against a real gunicorn serving the public booking site."""
