"""musicrfm.steering."""
