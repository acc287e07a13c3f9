"""The AGOP lab tab: an RFM on a table you choose, and the modular-arithmetic emergence demo."""

from __future__ import annotations

import gradio as gr

from musicrfm.app.engine import AppEngine
from musicrfm.app.errors import shown_errors
from musicrfm.app.figures import history_figure, importances_figure, matrix_figure, spectrum_figure
from musicrfm.app.lab import BUNDLED, LabSettings, bundled_table, fit_table, modular_demo, read_csv_upload


def build_lab_tab(engine: AppEngine) -> None:
    """Lay out the tab and wire its events."""
    limits = engine.limits
    gr.Markdown("### Tabular RFM\nPick a bundled dataset or upload a CSV (numeric features, a header row, "
                f"at most {limits.max_upload_bytes / 1e6:.1f} MB and {limits.max_csv_rows} rows).")
    with gr.Row():
        dataset = gr.Dropdown(label="Bundled dataset", choices=list(BUNDLED), value="iris")
        upload = gr.File(label="...or upload a CSV (used when present)", file_types=[".csv"], elem_id="lab-csv")
        target = gr.Dropdown(label="Target column", choices=["target"], value="target", allow_custom_value=True)
    with gr.Row():
        kernel = gr.Radio(label="Kernel", choices=["laplace", "gaussian"], value="laplace")
        bandwidth = gr.Number(label="Bandwidth", value=10.0, minimum=0.01)
        reg = gr.Number(label="Ridge", value=1e-3, minimum=0.0)
        iters = gr.Slider(label="AGOP rounds", minimum=0, maximum=20, step=1, value=5)
        diag = gr.Checkbox(label="Diagonal metric", value=False)
        center = gr.Checkbox(label="Centre gradients", value=False)
    fit = gr.Button("Fit RFM", variant="primary", elem_id="lab-fit")
    summary = gr.Markdown()
    with gr.Row():
        history = gr.Plot(label="Score per AGOP round", elem_id="lab-history")
        importances = gr.Plot(label="Feature importances (diag of M)")
    spectrum = gr.Plot(label="AGOP eigen-spectrum")

    def table(name, file):
        if file:
            return read_csv_upload(file, limits.max_upload_bytes, limits.max_csv_rows)
        return bundled_table(name)

    @shown_errors
    def columns(name, file):
        names = [str(c) for c in table(name, file).columns]
        return gr.update(choices=names, value=names[-1])

    @shown_errors
    def run(name, file, column, kernel_name, width, ridge, rounds, diagonal, centred):
        settings = LabSettings(kernel=kernel_name, bandwidth=float(width), reg=float(ridge), iters=int(rounds),
                               diag=bool(diagonal), center_grads=bool(centred))
        result = fit_table(table(name, file), column, settings)
        text = (f"**{result.task}**, kept round {result.best_iter}: test {result.metric} "
                f"**{result.test_score:.3f}**; top features: {', '.join(_top(result.features, result.importances))}")
        return (text, history_figure(result.history, result.metric, result.best_iter, "RFM score per round"),
                importances_figure(result.features, result.importances), spectrum_figure(result.eigenvalues))

    gr.on([dataset.input, upload.upload, upload.clear], columns, [dataset, upload], target, api_name="lab_columns")
    fit.click(run, [dataset, upload, target, kernel, bandwidth, reg, iters, diag, center],
              [summary, history, importances, spectrum], api_name="lab_fit")
    _modular_section()


def _top(names: tuple[str, ...], importances, count: int = 3) -> list[str]:
    return [names[i] for i in importances.argsort()[::-1][:count]]


def _modular_section() -> None:
    gr.Markdown("### Modular arithmetic: emergence\nAn RFM on (a + b) mod p sits near chance on unseen pairs, "
                "then jumps to perfect accuracy as its metric M becomes block-circulant.")
    with gr.Row():
        p = gr.Slider(label="p", minimum=5, maximum=31, step=1, value=19)
        fraction = gr.Slider(label="Training fraction", minimum=0.1, maximum=0.9, step=0.05, value=0.75)
        rounds = gr.Slider(label="AGOP rounds", minimum=1, maximum=30, step=1, value=12)
    go = gr.Button("Run the modular demo", elem_id="modular-run")
    summary = gr.Markdown()
    with gr.Row():
        accuracy = gr.Plot(label="Accuracy per round (circulant deviation dotted)", elem_id="modular-accuracy")
        image = gr.Plot(label="Learned M", elem_id="modular-matrix")

    @shown_errors
    def run(modulus, share, count):
        result = modular_demo(int(modulus), train_fraction=float(share), iters=int(count))
        jump = next((i for i, acc in enumerate(result.history["test"]) if acc >= 0.9), None)
        text = (f"test accuracy {result.history['test'][0]:.2f} at round 0, {max(result.history['test']):.2f} at best"
                + ("" if jump is None else f"; crosses 0.9 at round {jump}")
                + ("" if not result.deviations else f"; circulant deviation {result.deviations[0]:.3f} -> "
                   f"{result.deviations[-1]:.3f}"))
        return (text, history_figure(result.history, "accuracy", result.best_iter, f"(a + b) mod {result.p}",
                                     extra=("circulant deviation", result.deviations)),
                matrix_figure(result.metric, result.p, f"M at round {result.best_iter}"))

    go.click(run, [p, fraction, rounds], [summary, accuracy, image], api_name="modular")
