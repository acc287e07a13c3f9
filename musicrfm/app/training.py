"""The Probes tab's work: train a probe on a built-in concept dataset and save it to the library; describe
the probes already there.

>>> import tempfile
>>> from musicrfm.app.cancel import CancelToken
>>> from musicrfm.app.engine import AppEngine
>>> from musicrfm.models import MusicGen
>>> from musicrfm.models.random_weights import tiny_musicgen
>>> from musicrfm.probes import ProbeLibrary
>>> engine = AppEngine(loader=lambda name: MusicGen.from_model(tiny_musicgen(seed=0), name=name),
...                    library=ProbeLibrary(tempfile.mkdtemp()), cache_dir=tempfile.mkdtemp(), dataset_backend="numpy")
>>> request = TrainRequest("toy", "notes", name="d", classes="C, D, E", target="D", n_per_class=2)
>>> train_and_save(engine, request, CancelToken())
Traceback (most recent call last):
ValueError: clips per class: must be a whole number from 5 to 50, got 2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from musicrfm.app.cancel import CancelToken
from musicrfm.app.engine import AppEngine, Progress
from musicrfm.app.figures import layer_scores_figure
from musicrfm.app.terms import parse_layers_text
from musicrfm.checks import is_finite, is_int
from musicrfm.data import get_concept, make_dataset
from musicrfm.probes import ConceptProbe, train_probe

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Search budgets: "quick" suits the toy model in seconds; "research" is the paper's 100 configurations.
SEARCH_BUDGETS = {
    "quick": {"n_configs": 4, "max_iters": 3},
    "standard": {"n_configs": 20, "max_iters": 10},
    "research": {"n_configs": 100, "max_iters": 30},
}
_STAGES = {"extract": (0.0, 0.5, "extracting activations"), "fit": (0.5, 0.5, "fitting layer probes")}


@dataclass(frozen=True)
class TrainRequest:
    """What to train: `classes` is a comma-separated subset (empty: all), `target` a class for a binary
    one-vs-rest probe (empty: multiclass, or the regression for tempo), `layers` as in the Generate tab."""

    model: str
    concept: str
    name: str
    classes: str = ""
    target: str = ""
    n_per_class: int = 10
    duration_s: float = 1.0
    layers: str = "all"
    budget: str = "quick"
    seed: int = 0


def train_and_save(engine: AppEngine, request: TrainRequest, token: CancelToken,
                   progress: Progress | None = None) -> ConceptProbe:
    """Render the dataset, train the probe on the model and store it in the library under `request.name`."""
    engine.library.path(request.name)  # a bad name fails before minutes of training, not after
    concept = get_concept(request.concept)
    classes = [part.strip() for part in request.classes.split(",") if part.strip()] or None
    _check_counts(request, engine.limits.max_clips_per_class)
    if request.budget not in SEARCH_BUDGETS:
        raise ValueError(f"search budget: must be one of {sorted(SEARCH_BUDGETS)}, got {request.budget!r}")
    layers = parse_layers_text(request.layers)
    if not (layers == "all" or isinstance(layers, list)):
        raise ValueError("layers: probes train on all layers or on a list of layer indices")
    model = engine.model(request.model)
    dataset = make_dataset(concept.name, request.n_per_class, seed=request.seed, sample_rate=model.sample_rate,
                           duration_s=request.duration_s, classes=classes, backend=engine.dataset_backend)

    def report(stage: str, done: int, total: int) -> None:
        token.check()
        start, span, text = _STAGES.get(stage, (0.0, 1.0, stage))
        if progress is not None and total:
            progress(start + span * done / total, text)

    with engine.training(request.model, token) as twin:
        probe = train_probe(twin, dataset, target=request.target.strip() or None, layers=layers,
                            search=SEARCH_BUDGETS[request.budget], seed=request.seed, cache_dir=engine.cache_dir,
                            progress=report)
    engine.library.save(probe, request.name)
    return probe


def _check_counts(request: TrainRequest, max_clips: int) -> None:
    count, duration = request.n_per_class, request.duration_s
    if not is_int(count) or not 5 <= count <= max_clips:
        raise ValueError(f"clips per class: must be a whole number from 5 to {max_clips}, got {count!r}")
    if not is_finite(duration) \
            or not 0.25 <= duration <= 8:
        raise ValueError(f"clip length: must be between 0.25 and 8 seconds, got {duration!r}")


def probe_targets(engine: AppEngine, name: str) -> list[str]:
    """The targets a library probe can steer toward: its classes (multiclass), its target (binary), none
    (regression)."""
    info = engine.library.show(name)
    if info["task"] == "multiclass":
        return list(info["classes"])
    return [info["target"]] if info.get("target") else []


def probe_overview(engine: AppEngine, name: str) -> tuple[dict[str, Any], Figure]:
    """A library probe's metadata and its per-layer scores chart."""
    info = engine.library.show(name)
    figure = layer_scores_figure(info["layers"], info["val_scores"], info["test_scores"], info["metric"],
                                 f"probe '{name}' ({info['concept']}, {info['task']})")
    return info, figure

