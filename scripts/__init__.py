"""Developer scripts; `stack` is also imported by the stack test."""
