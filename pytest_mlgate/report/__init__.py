"""Renderers: terminal table, JSON (HTML and Markdown come with the report issue)."""
