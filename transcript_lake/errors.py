"""Errors a user can act on. Jobs print them as one line (no Java stack trace) and exit 2."""


class UserError(Exception):
    """A problem with the user's configuration, paths or environment, not a bug."""


class ConfigError(UserError):
    """Invalid or missing configuration, or a path in it that cannot be used."""
