"""musicrfm.probes."""
