"""Concept datasets for training probes: SynTheory-style clips rendered locally from MIDI (FluidSynth with
a General MIDI soundfont, or a numpy synthesiser), loaders for a user's labelled audio and the public
SynTheory dataset, and stratified splits.

>>> from musicrfm.data import make_dataset
>>> ds = make_dataset("chords", n_per_class=2, classes=["major", "minor"], duration_s=1.0, backend="numpy")
>>> ds.class_counts()
{'major': 2, 'minor': 2}
"""

from musicrfm.data.analysis import estimate_tempo, onset_times, pitch_class_profile, pitch_salience
from musicrfm.data.concepts import CONCEPTS, Concept, get_concept
from musicrfm.data.dataset import Clip, ClipMeta, ConceptDataset, make_dataset
from musicrfm.data.loaders import load_folder, load_manifest, load_syntheory
from musicrfm.data.render import fluidsynth_unavailable
from musicrfm.data.splits import Split, quantile_bins, stratified_split

__all__ = [
    "CONCEPTS", "Clip", "ClipMeta", "Concept", "ConceptDataset", "Split", "estimate_tempo", "fluidsynth_unavailable",
    "get_concept", "load_folder", "load_manifest", "load_syntheory", "make_dataset", "onset_times",
    "pitch_class_profile", "pitch_salience", "quantile_bins", "stratified_split",
]
