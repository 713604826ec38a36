"""Hostile text in Debian chromium (issue 25.3, 25.4): file names, labels, titles, captions and instructions that
carry Markdown links, images, HTML, right-to-left marks and long strings are walked through every page of the real
app.py, as the team lead and as an annotator; the rendered pages hold no link, image or element of theirs, and a
local recording HTTP server (the "remote" images' host) receives no request. Instructions keep an https link and
lose a ``javascript:`` one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.browser import new_page, wait_for_idle, wait_until
from tests.fixtures.labeling import APP, LabelWorld, start_job
from tests.fixtures.people import PASSWORD

pytestmark = pytest.mark.browser
SIZE = (320, 240)


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Recorder.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


_FOUND_JS = """(remote) => {
  const bad = (u) => !!u && (u.includes('evil.example') || u.startsWith(remote) || u.startsWith('javascript:')
                             || u.startsWith('data:text'));
  return {
    links: [...document.querySelectorAll('a[href]')].filter(a => bad(a.getAttribute('href')))
             .map(a => a.getAttribute('href') + ' in ' + a.parentElement.outerHTML.slice(0, 300)),
    images: [...document.querySelectorAll('img[src]')].map(i => i.getAttribute('src')).filter(bad),
    elements: document.querySelectorAll('#pwned, #pwnlabel, #pwntitle, #pwncap, #pwnfile, marquee').length,
    safe_links: [...document.querySelectorAll('a[href^="https://example.org/"]')].length,
  };
}"""


def _hostile(remote: str) -> dict[str, str]:
    return {
        "link": "[Session expired - click to sign in again](https://evil.example/login)",
        "image": f"![pixel]({remote}/md-image.png)",
        "html": f'<b id="pwned">bold</b><img src="{remote}/html-image.png"><marquee>m</marquee>',
        "rtl": "\u202egnp.exe\u202c \u200fright-to-left",
        "long": "L" * 400,
    }


def _check(page: Any, remote: str, where: str) -> dict[str, Any]:
    wait_for_idle(page)
    crashed = page.locator('[data-testid="stException"]')
    assert crashed.count() == 0, (where, crashed.first.inner_text())
    found = page.evaluate(_FOUND_JS, remote)
    assert found["links"] == [] and found["images"] == [] and found["elements"] == 0, (where, found)
    return dict(found)


def _world(world: LabelWorld, remote: str) -> Any:
    h = _hostile(remote)
    images = world.root / "images"
    # a file whose path is a Markdown link, and which fails to decode: the Label page quotes its name
    bad = images / "[Session expired - click to sign in again](https:" / "evil.example" / "login).png"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not an image at all")
    html_named = images / '<b id="pwnfile">x<' / "b>![pic](http:" / "127.0.0.1" / "f.png"
    html_named.parent.mkdir(parents=True, exist_ok=True)
    html_named.write_bytes(b"neither")
    good = world.image("\u202eplain" + "n" * 100, SIZE)
    example = world.image("example", SIZE)
    # instructions are the team lead's Markdown: http(s) and mailto links stay, other schemes and images go
    full = "\n\n".join(
        [
            "# Rules",
            "Read [the guide](https://example.org/guide) and not [this](javascript:alert(document.cookie))",
            f"{h['image']} and [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            f"![own example]({example})",
            f'<b id="pwned">bold</b><img src="x" onerror="this.src=\'{remote[5:]}/onerror\'"><marquee>m</marquee>',
            h["rtl"],
            h["long"],
        ]
    )
    job = world.jobs.create(
        name="hostile",
        lines=[{"source-ref": str(p)} for p in (bad, html_named, good)],
        task_type="BoundingBox",
        labels=['<b id="pwnlabel">cat</b>', "[dog](https://evil.example/dog)", "\u202etac"],
        extra_human={
            "TaskTitle": f'{h["link"]} <b id="pwntitle">t</b>',
            "TaskDescription": f"{h['image']} {h['link']}",
            "Instructions": {
                "Short": f"{h['image']} {h['rtl']}",
                "Full": full,
                "Examples": [
                    {"Kind": "good", "ImageUri": str(example), "Caption": f'{h["link"]} <b id="pwncap">c</b>'}
                ],
            },
        },
    )
    return job


def test_every_page_shows_hostile_text_as_text(
    label_world: LabelWorld, streamlit_app: Any, browser: Any, recorder: str
) -> None:
    world = label_world
    ann = world.worker("ann@example.test")
    job = _world(world, recorder)
    url = streamlit_app(APP, world.env)

    # the annotator: portal, then the Label page (the file named as a link fails to decode: its error box)
    page = new_page(browser)
    page.goto(url)
    wait_for_idle(page)
    page.get_by_label("E-mail address").fill(ann.email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Worker portal").wait_for(timeout=30_000)
    _check(page, recorder, "home (worker)")
    page.get_by_role("link", name="Worker portal").click()
    _check(page, recorder, "portal")
    start_job(page, "Session expired")
    page.get_by_text("cannot be shown").first.wait_for(timeout=30_000)
    page.get_by_text("Full instructions").first.click()
    wait_until(lambda: page.get_by_role("img").count() >= 1, what="the example image", timeout=30)
    found = _check(page, recorder, "label")
    assert found["safe_links"] >= 1  # the https link of the instructions is kept
    shown = page.inner_text("body")
    assert "Session expired - click to sign in again" in shown and "evil.example" in shown  # as text
    assert "image not shown" in shown
    for _ in range(2):  # decline the broken objects: the next tasks (the other bad name, the good image)
        page.get_by_role("button", name="Decline").first.click()
        wait_for_idle(page)
        _check(page, recorder, "label (next task)")
    account = page.get_by_role("link", name="Account")
    account.click()
    _check(page, recorder, "account (worker)")

    # the team lead: every page of his
    admin = new_page(browser)
    admin.goto(url)
    wait_for_idle(admin)
    admin.get_by_label("E-mail address").fill(world.admin.email)
    admin.get_by_label("Password", exact=True).fill(PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    admin.get_by_role("link", name="Jobs").wait_for(timeout=30_000)
    _check(admin, recorder, "home (admin)")
    for path in ("jobs", f"job_status?job={job.name}", "create_job", "workforce", "account"):
        admin.goto(f"{url}/{path}")
        _check(admin, recorder, path)
    admin.goto(f"{url}/viewer")
    wait_for_idle(admin)
    admin.locator(".st-key-viewer_open button").click()
    _check(admin, recorder, "viewer (job output)")
    assert _Recorder.hits == [], _Recorder.hits  # no "remote" image was ever fetched
