"""Vigil: a Linux host runtime-security agent."""

__version__ = "0.1.0"
