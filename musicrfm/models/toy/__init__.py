"""An embedded toy music generator: MusicGen's architecture at a tiny size with a codec of our own.

Importing the package registers the toy codec with transformers, so `from_pretrained` (and musicrfm's
`load_musicgen`) can rebuild a saved toy model.

>>> from musicrfm.models.toy import ToyTrainConfig
>>> ToyTrainConfig().clip_frames
150
"""

from musicrfm.models.toy.codec import ToyCodec, ToyCodecConfig
from musicrfm.models.toy.load import ToyModel, cache_root, load_toy, toy_folder
from musicrfm.models.toy.model import ToyArchitecture, build_toy_model, toy_tokenizer
from musicrfm.models.toy.train import ToyTrainConfig, train_toy

__all__ = [
    "ToyArchitecture", "ToyCodec", "ToyCodecConfig", "ToyModel", "ToyTrainConfig", "build_toy_model",
    "cache_root", "load_toy", "toy_folder", "toy_tokenizer", "train_toy",
]
