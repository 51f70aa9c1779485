"""Models: see docs/architecture.md."""
