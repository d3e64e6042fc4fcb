"""One gated run: plan, resolve, evaluate, record, write outputs."""
