"""musicrfm.models."""
