"""The trainer's one exception type: a user-facing problem, shown as one line (no torch here)."""


class TrainerError(Exception):
    """A user-facing problem (bad input, missing file, unavailable weights): one clear line."""
