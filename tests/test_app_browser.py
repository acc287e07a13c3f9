"""The app in a real headless Chromium (Debian's, driven by Playwright): generate with a concept, stop a
long generation with the Stop button, then use the Probes tab and the AGOP lab. Screenshots are saved as
artifacts and their paths printed."""

import shutil

import pytest

from tests.app_support import hooks_left, recorded_forwards, running_app, tiny_engine, wait_for

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 45_000


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return tiny_engine(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def page(engine):
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is required for the browser test (apt-get install chromium)")
    with running_app(engine) as url, playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        yield page
        browser.close()


def pick(page, elem_id: str, option: str) -> None:
    """Choose `option` in the Gradio dropdown `elem_id` the way a user does: open it, click the option."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def plot_image(page, elem_id: str):
    return page.locator(f"#{elem_id} img")


def test_generate_with_a_concept(page, tmp_path):
    page.locator("#prompt textarea").fill("calm piano melody")
    # The form opens on a probe and its first class, and says that nothing steers until a concept is added.
    assert page.locator("#concept-probe input").input_value() != ""
    assert page.locator("#concept-target input").input_value() != ""
    assert "No concept added yet" in page.locator("#concept-status").inner_text()
    pick(page, "concept-probe", "notes")
    pick(page, "concept-target", "E")
    page.locator("#concept-strength input").fill("2.0")
    page.locator("#add-concept").click()
    page.get_by_text('"probe": "notes"').first.wait_for()
    page.get_by_text("1 concept(s) will steer the next generation").wait_for()
    plot_image(page, "strength-plot").wait_for()
    page.locator("#generate").click()
    for elem_id in ("unsteered-audio", "steered-audio"):
        # A loaded player shows its waveform and play control; audio exists only once a clip is returned.
        page.locator(f"#{elem_id} button[aria-label='Play']").wait_for()
    plot_image(page, "chroma-plot").wait_for()
    assert page.get_by_text("notes:E.note_accuracy").count() >= 1
    shot = tmp_path / "generate.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")


def test_stop_button_stops_the_decoding(page, engine):
    page.locator("#duration input").fill("20")
    with recorded_forwards(engine.model("toy"), delay_s=0.02) as calls:
        page.locator("#generate").click()
        wait_for(lambda: len(calls) >= 5)
        page.locator("#stop-generate").click()
        page.get_by_text("Stopping the generation").first.wait_for()
        wait_for(lambda: hooks_left(engine.model("toy")) == 1)  # only the recorder: the work has stopped
        stopped = len(calls)
        page.wait_for_timeout(300)
        assert len(calls) == stopped < 100  # of ~2000 forwards that 20 s would take
    page.locator("#duration input").fill("0.4")


def test_probes_tab_shows_a_library_probe(page, tmp_path):
    page.get_by_role("tab", name="Probes").click()
    pick(page, "library-probe", "notes")
    plot_image(page, "probe-scores").wait_for()
    assert page.get_by_text("multiclass").count() >= 1
    page.screenshot(path=str(tmp_path / "probes.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'probes.png'}")


def test_agop_lab_fits_and_runs_the_modular_demo(page, tmp_path):
    page.get_by_role("tab", name="AGOP lab").click()
    page.locator("#lab-fit").click()
    plot_image(page, "lab-history").wait_for()
    page.locator("#modular-run").click()
    plot_image(page, "modular-matrix").wait_for()
    assert page.get_by_text("crosses 0.9 at round").count() == 1
    page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'lab.png'}")
