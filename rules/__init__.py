"""On-chip plasticity rules and the baselines they are measured against (imported as neurochip.rules)."""
