"""The ``mlgate`` command."""
