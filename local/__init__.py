"""Local-only tooling: the embedded engine and the local stage (not shipped to Lambda)."""
