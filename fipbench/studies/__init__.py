"""Studies: one module each, wiring data, models, the FIP engine and the baselines."""
