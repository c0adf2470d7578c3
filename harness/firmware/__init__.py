"""Firmware under test: load names, the lab signing key, example loads and load folders."""
