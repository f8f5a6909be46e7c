"""Why a record is unusable: the cases of the contract's `task-error` variant.

`app.py` turns each into its WIT case; the pure modules raise them.
"""


class TaskError(Exception):
    """A record the plugin cannot use, or counts `aggregate` cannot read."""


class InvalidJson(TaskError):
    """The record is not a JSON object, or not JSON at all."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class MissingField(TaskError):
    """A required field is absent; `field` is its JSON Pointer."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


class InvalidField(TaskError):
    """A field is present but unusable."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Other(TaskError):
    """Anything else, described in `message`."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
