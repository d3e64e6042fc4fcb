"""Text processing shared by tasks and the gate: Turkish casing, personal data."""
