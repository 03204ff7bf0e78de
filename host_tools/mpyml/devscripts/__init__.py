"""MicroPython code that mpyml sends to a device (read as text, never
imported on the host)."""

from pathlib import Path


def script(name: str) -> str:
    return (Path(__file__).parent / f"{name}.py").read_text()
