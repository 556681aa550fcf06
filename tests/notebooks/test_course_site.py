"""`make course`: the site is built from the executed notebooks, offline, and a real browser (headless Chromium,
Debian's package) renders every page with its pictures; every link inside the site resolves."""

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("nbconvert", reason="the notebooks extra is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.privileged
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from moby_dick.course_site import build, lessons

    out = tmp_path_factory.mktemp("course")
    pages = build(out)
    assert len(pages) == len(lessons()) + 1
    return out


def browser(*args, timeout=90):
    assert CHROMIUM, "chromium is not installed: `make test` installs it (scripts/setup-system --engines)"
    done = subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", "--disable-extensions", *args], capture_output=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-500:]
    return done.stdout.decode(errors="replace")


def test_the_index_maps_every_lesson_and_every_page_links_only_inside_or_to_public_references(site):
    from moby_dick.course_site import lessons

    index = (site / "index.html").read_text()
    for notebook in lessons():
        assert f'href="{notebook.stem}.html"' in index
    for page in site.glob("*.html"):
        text = page.read_text()
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', text), f"{page.name} loads from the network"
        for target in re.findall(r'href="([^"#]+)"', text):
            if target.startswith(("https://", "http://", "mailto:")):
                continue
            assert (site / target).exists(), f"{page.name}: link {target} does not resolve"
        assert 'rel="next"' in text or page.stem.startswith("13-")


def test_every_page_renders_in_chromium_with_its_pictures(site):
    pages = sorted(site.glob("*.html"))

    def rendered(page):
        return page, browser("--virtual-time-budget=5000", "--dump-dom", page.as_uri())

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(rendered, pages))
    for page, dom in results:
        match = re.search(r'data-pictures="shown (\d+) of (\d+)"', dom)
        assert match, f"{page.name}: the page's load handler never ran"
        shown, total = map(int, match.groups())
        assert shown == total, f"{page.name}: only {shown} of {total} pictures were decoded"
        if page.stem[:2].isdigit():
            assert total >= 1, f"{page.name} shows no picture"
            assert "[not run]" not in dom, f"{page.name} was built without root"


def test_screenshots_show_a_readable_page_on_a_laptop_screen(site, tmp_path):
    from matplotlib import image

    for name in ("index", "11-networking-veth-bridge-ports", "13-final-exam"):
        shot = tmp_path / f"{name}.png"
        browser("--window-size=1366,900", f"--screenshot={shot}", (site / f"{name}.html").as_uri())
        pixels = image.imread(shot)
        assert pixels.shape[:2] == (900, 1366)
        colours = {tuple(row) for row in pixels[::7, ::7, :3].reshape(-1, 3).round(2).tolist()}
        assert len(colours) > 20, f"{name}: the screenshot is (nearly) blank"
        # the text column is centred and bounded (readable line length), not edge to edge
        ink = (pixels[:, :, :3].mean(axis=2) < 0.5)
        columns = ink.any(axis=0).nonzero()[0]
        assert columns.min() > 100 and columns.max() < 1366 - 100, f"{name}: text runs to the screen's edges"
