"""Make docs/serve-paint.png and docs/serve-result.png: the `rwgan serve` page in headless chromium.

    .venv/bin/python docs/serve_screenshot.py [--checkpoint model.pt]

Opens scikit-image's `chelsea` photo, paints a stroke over the cat's ear, screenshots the
page, presses Remove and screenshots the before/after view.  Without --checkpoint it uses
a randomly initialised 64 px generator (so the fill is noise): pass a trained model.pt
for a real result.  Needs /usr/bin/chromium, /usr/bin/chromedriver and selenium, as
tests/test_serve.py does.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="a model.pt (default: a random 64 px generator)")
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from skimage import data

    from rwgan.inference import load_inpainter, save_model
    from rwgan.models import build_generator
    from rwgan.serve import make_server
    from rwgan.variants import DiscriminatorSpec, Variant

    work = Path(tempfile.mkdtemp(prefix="rwgan-shot-"))
    checkpoint = args.checkpoint
    if checkpoint is None:
        variant = Variant(name="full", model="region_wise", standard_conv=False, lambda_correlation=1e-5,
                          lambda_style=1e-3, lambda_adversarial=1.0, correlation_on="coarse", style_on="refined",
                          adversarial_phase=True,
                          discriminators=(DiscriminatorSpec("region_wise", ("coarse", "refined")),))
        checkpoint = work / "model.pt"
        save_model(checkpoint, build_generator(variant, seed=1), variant, 64, params_hash="x", params={}, step=0)
    Image.fromarray(data.chelsea()).save(work / "chelsea.png")

    server = make_server(load_inpainter(checkpoint), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={work / 'profile'}", "--window-size=1100,720", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.get(server.url)
        state = lambda: driver.find_element(By.TAG_NAME, "body").get_attribute("data-state")  # noqa: E731
        driver.find_element(By.ID, "file").send_keys(str(work / "chelsea.png"))
        while state() != "painting":
            time.sleep(0.1)
        canvas = driver.find_element(By.ID, "strokes")
        scale = canvas.size["width"] / 451  # chelsea is 451 x 300
        brush = driver.find_element(By.ID, "brush")
        driver.execute_script("arguments[0].value = 28; arguments[0].dispatchEvent(new Event('input'))", brush)
        # a scribble over the cat's left ear (image pixels around x 140-175, y 20-70)
        points = [(150, 25), (165, 35), (150, 45), (170, 55), (150, 65), (175, 70)]
        chain = ActionChains(driver).move_to_element_with_offset(
            canvas, int((points[0][0] - 225.5) * scale), int((points[0][1] - 150) * scale)).click_and_hold()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            chain = chain.move_by_offset(int((x1 - x0) * scale), int((y1 - y0) * scale))
        chain.release().perform()
        ActionChains(driver).move_to_element_with_offset(canvas, int(-40 * scale), int(-80 * scale)).perform()
        driver.save_screenshot(str(HERE / "serve-paint.png"))
        driver.find_element(By.ID, "run").click()
        while state() != "result":
            time.sleep(0.1)
        driver.execute_script("arguments[0].value = 25; arguments[0].dispatchEvent(new Event('input'))",
                              driver.find_element(By.ID, "split"))
        driver.save_screenshot(str(HERE / "serve-result.png"))
    finally:
        driver.quit()
        server.shutdown()
    print(f"wrote {HERE / 'serve-paint.png'} and {HERE / 'serve-result.png'}")


if __name__ == "__main__":
    main()
