"""Concept probes: RFM probes on MusicGen activations, their directions as steering input, and bundles.

Three lines from nothing to a saved note probe (here with a tiny random model and a small, fast search):

>>> import tempfile
>>> from musicrfm.data import make_dataset
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> from musicrfm.probes import ConceptProbe, train_probe
>>> model, folder = tiny_musicgen(seed=0), tempfile.mkdtemp()
>>> ds = make_dataset("notes", n_per_class=5, duration_s=0.5, backend="numpy")
>>> probe = train_probe(model, ds, target="C", search={"n_configs": 2, "max_iters": 1}, cache_dir=folder)
>>> path = probe.save(folder + "/c_probe")
>>> ConceptProbe.load(path).target, probe.direction().layers
('C', (0, 1))
"""

from musicrfm.probes.activations import default_cache_dir, extract_activations
from musicrfm.probes.fit import LayerFit, fit_layers
from musicrfm.probes.library import ProbeLibrary, default_library_root
from musicrfm.probes.probe import ConceptProbe
from musicrfm.probes.train import train_probe

__all__ = [
    "ConceptProbe", "LayerFit", "ProbeLibrary", "default_cache_dir", "default_library_root", "extract_activations",
    "fit_layers", "train_probe",
]
