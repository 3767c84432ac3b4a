"""Warming the monster cache: what to warm (`inputs`) and the one engine that warms it
(`engine`), shared by `manage.py warm_cache` and the admin's "Warm into cache" action."""
