"""Files `mlgate init` writes into a repository."""
