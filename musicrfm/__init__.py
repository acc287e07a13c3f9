"""musicrfm: steer MusicGen with Recursive Feature Machine concept directions."""

__version__ = "0.1.0"
