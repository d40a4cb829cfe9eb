"""The one error family gracectl raises; the CLI catches it in one place.

Every error carries a one-line message (what, where) and a hint (what to do), plus the
process exit code it maps to: 2 for bad input, 3 when the tool could not do its job.
"""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_COULD_NOT_RUN = 3


class GracectlError(Exception):
    exit_code = EXIT_COULD_NOT_RUN

    def __init__(self, message: str, hint: str = "", details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details


class ConfigError(GracectlError):
    """Malformed or invalid configuration, unknown profile, bad flag value."""

    exit_code = EXIT_USAGE


class EnvironmentProblem(GracectlError):
    """The machine is not ready: a missing binary, a taken port, an unwritable directory."""

    exit_code = EXIT_USAGE


class StackNotRunning(GracectlError):
    """A command needs a running stack and there is none."""

    exit_code = EXIT_COULD_NOT_RUN


class ComponentTimeout(GracectlError):
    """A component did not become ready in time; `details` carries the tail of its log."""

    exit_code = EXIT_COULD_NOT_RUN

    def __init__(self, component: str, what: str, hint: str = "", details: str = "") -> None:
        super().__init__(f"{component}: {what}", hint, details)
        self.component = component


class Interrupted(GracectlError):
    """SIGINT or SIGTERM stopped a run that must not go on to its next part (what ran is
    healed and its journal written)."""

    exit_code = 130


class BusError(GracectlError):
    """The event bus (Kafka or Redis Streams) could not be reached or refused a request."""

    exit_code = EXIT_COULD_NOT_RUN
