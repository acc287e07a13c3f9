"""musicrfm.cli."""
