"""Hypothesis profiles: a fast default, "ci" for CI when time allows, "thorough" for 1,000+ examples.
Pick one with HYPOTHESIS_PROFILE=thorough.

The `browser` fixture: headless chromium, for tests of the HTML reports.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=30, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# -- a real browser, for the HTML reports ---------------------------------------------

#: Debian's chromium and its driver (.ci/run installs both).
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: Every figure of a page: its name, whether it holds an <svg>, the SVG's size on screen
#: and the size of what is drawn inside it (``getBBox``).
_FIGURES_JS = """
return Array.from(document.querySelectorAll('figure[data-figure]')).map(figure => {
  const svg = figure.querySelector(':scope > svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const drawn = svg ? svg.getBBox() : {width: 0, height: 0};
  return {name: figure.dataset.figure, svg: !!svg, width: box.width, height: box.height,
          drawn_width: drawn.width, drawn_height: drawn.height};
});
"""

#: Every table of a page: name -> row key -> column key -> the cell's exact value
#: (``data-value``) and the text it shows.
_TABLES_JS = """
const tables = {};
for (const table of document.querySelectorAll('table[data-table]')) {
  const rows = tables[table.dataset.table] = {};
  for (const row of table.querySelectorAll('tbody tr[data-row]')) {
    const cells = rows[row.dataset.row] = {};
    for (const cell of row.querySelectorAll('td[data-column]')) {
      cells[cell.dataset.column] = {value: cell.dataset.value ?? null, text: cell.innerText};
    }
  }
}
return tables;
"""


@attrs.define(eq=False)
class Browser:
    """Headless chromium driven by selenium: open a page, read its figures and tables."""

    driver: Any

    def open(self, path: Path) -> None:
        """Load a local file and wait for it (a file:// URL: nothing from a network)."""
        self.driver.get(path.resolve().as_uri())

    def figures(self) -> list[dict[str, Any]]:
        return list(self.driver.execute_script(_FIGURES_JS))

    def tables(self) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
        return dict(self.driver.execute_script(_TABLES_JS))

    def script(self, code: str) -> Any:
        return self.driver.execute_script(code)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless chromium for the session; skipped, saying what is missing, where
    chromium, chromedriver or selenium is not installed."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            pytest.skip(f"no {path}: the browser tests need Debian's {package} package (apt-get install {package})")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed: pip install -e '.[test]'")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield Browser(driver=driver)
    finally:
        driver.quit()
