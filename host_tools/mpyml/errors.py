"""Exceptions of the host tools. The CLI turns them into one-line messages."""


class MpymlError(Exception):
    """A failure the user can act on; the message says what and how."""


class SdkError(MpymlError):
    """MicroPython sources (or another pinned dependency) are unavailable."""


class BuildError(MpymlError):
    """A firmware build failed or cannot be attempted."""


class BoardError(MpymlError):
    """An unknown board name or an invalid board definition."""
