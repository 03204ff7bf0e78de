"""CLI command modules. Every module here defines ``register(main)``, which
adds its click commands or groups to the top-level ``mpyml`` group; cli.py
calls each in name order, so a pipeline stage adds commands without editing
a shared file."""
