"""mpyml: TinyML for MicroPython — host tools.

The command-line interface (`mpyml`, see `mpyml --help`) is a thin layer over
importable modules, one per pipeline stage: `mpyml.sdk` (MicroPython sources),
`mpyml.boards` (board definitions), `mpyml.firmware` (firmware builds),
`mpyml.devtest` (running the device test suite).
"""

__version__ = "0.1.0"
