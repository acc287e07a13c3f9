"""musicrfm.data."""
