"""Pure decisions: verdicts, the paired comparison rule, latency items."""
