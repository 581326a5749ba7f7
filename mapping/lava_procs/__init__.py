"""Lava processes neurochip adds; they import lava-nc, so import them only to export."""
