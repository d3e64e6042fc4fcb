"""thresholds.toml and options: frozen dataclasses, validation and its messages."""
