"""An embedded toy music generator: MusicGen's architecture at a tiny size with a codec of our own.

Importing the package registers the toy codec with transformers, so `from_pretrained` (and musicrfm's
`load_musicgen`) can rebuild a saved toy model.
"""

from musicrfm.toy.codec import ToyCodec, ToyCodecConfig

__all__ = ["ToyCodec", "ToyCodecConfig"]
