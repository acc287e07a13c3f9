"""musicrfm.evaluation."""
