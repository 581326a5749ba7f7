"""Lava (lava-nc 0.10) export: process graphs, standalone scripts, NetX files and plastic projections."""
