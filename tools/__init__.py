"""Development tools of pytest-mlgate (not shipped in the wheel)."""
