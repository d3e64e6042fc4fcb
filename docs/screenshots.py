"""Regenerate the report screenshots in this folder from the demo's real regression.

    mlgate demo && python docs/screenshots.py [mlgate-demo/report-regressed.html]

Needs playwright (the dev extra) and Debian's chromium.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent


def main() -> None:
    report = Path(sys.argv[1] if len(sys.argv) > 1 else "mlgate-demo/report-regressed.html")
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 980})
        page.goto(report.resolve().as_uri())
        page.screenshot(path=HERE / "report-regression.png")
        page.locator("text=Examples that flipped").scroll_into_view_if_needed()
        page.screenshot(path=HERE / "report-drilldown.png")
        browser.close()
    print(f"wrote {HERE / 'report-regression.png'} and {HERE / 'report-drilldown.png'}")


if __name__ == "__main__":
    main()
