"""Developer scripts; the `stack` package is also imported by its tests and by bench/."""
