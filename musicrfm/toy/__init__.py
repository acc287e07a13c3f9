"""Applications on the embedded toy model: its built-in probes (notes, chords, tempo) and the offline demo.

The toy model itself (codec, architecture, corpus, training, loading) lives in `musicrfm.models.toy`;
this package builds on probes, steering and evaluation, so nothing below it imports it.

>>> from musicrfm.toy.probes import TOY_CONCEPTS
>>> sorted(TOY_CONCEPTS)
['chords', 'notes', 'tempo']
"""
