"""The console in a real headless browser: Debian's chromium, driven by Playwright, on the session's local cloud.

A booking is followed the way a person would follow it: its execution appears and succeeds on the executions
page, its graph and history are drawn, the restaurant's email is opened in the outbox, the link in it confirms
the booking in a new tab, and the guest's email and the second execution arrive. Hostile guest names, written
straight into the table where the API would refuse them, must show as text everywhere and run nothing.

Screenshots of each page go to a temporary folder; with ``UPDATE_SCREENSHOTS=1`` they replace the ones in
``docs/screenshots/`` instead (kept out of ordinary runs, so that a test run leaves the tree unchanged).
"""

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, RunningCloud, book, executions_for, wait_for

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture says so: a skip, or a failure under REQUIRE_BROWSER=1
    expect = sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
# NOTE: a fixed set of switches: no sandbox (CI runs as root), and nothing that reaches past 127.0.0.1.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
DOM_TIMEOUT_MS = 30_000
EMAIL_TIMEOUT_S = 60.0
RESTAURANT_EMAIL = "bookings@restaurant.example.com"  # cdk.json context: restaurantEmail
HOSTILE_ALERT = "<img src=x onerror=alert(1)>"
HOSTILE_FLAG = "<img src=x onerror=window.__xss=1>"


def _require_browser() -> None:
    """Skip, saying what is missing, when there is no browser; under ``REQUIRE_BROWSER=1`` fail instead."""
    missing = None
    if not CHROMIUM.is_file():
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    elif sync_playwright is None:
        missing = "the playwright package is missing (pip install -r requirements-dev.txt)"
    if missing is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {missing}")
    pytest.skip(f"no browser test: {missing}")


@dataclass
class Watched:
    """What the pages of one browser context did that they should not have: errors, script errors, dialogs."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Browser:
    """One browser context on the local cloud, what it is watched for, and where its screenshots go."""

    context: Any
    watched: Watched
    screenshots: Path

    def screenshot(self, page: Any, name: str, full_page: bool = False) -> None:
        page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=full_page)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    _require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium: Any, local_cloud: RunningCloud, tmp_path: Path) -> Iterator[Browser]:
    """A fresh context; after the test, no page may have logged an error, thrown, or opened a dialog."""
    screenshots = tmp_path / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        screenshots = PROJECT_ROOT / "docs" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    watched = Watched()
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(DOM_TIMEOUT_MS)
    context.on(
        "console", lambda message: watched.console_errors.append(message.text) if message.type == "error" else None
    )
    context.on("weberror", lambda error: watched.page_errors.append(str(error.error)))

    def refuse(dialog: Any) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    context.on("dialog", refuse)
    try:
        yield Browser(context=context, watched=watched, screenshots=screenshots)
    finally:
        context.close()
    assert watched == Watched(), "the pages logged errors, threw or opened dialogs"


def _executions_for(cloud: RunningCloud, reservation_id: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` executions started for one reservation, oldest first, as soon as they exist."""

    def probe() -> list[dict[str, Any]] | None:
        mine = executions_for(cloud, reservation_id)
        return mine if len(mine) >= count else None

    return wait_for(probe, EMAIL_TIMEOUT_S, f"{count} execution(s) for {reservation_id}", interval=0.2)


def _email_file(cloud: RunningCloud, reservation_id: str, recipient: str) -> str:
    """The outbox file name of the email to ``recipient`` about one reservation, once it is there."""

    def probe() -> str | None:
        for path in cloud.outbox.glob("*.eml"):
            raw = path.read_text(errors="replace")
            if f"To: {recipient}" in raw and reservation_id in raw:
                return path.name
        return None

    return wait_for(probe, EMAIL_TIMEOUT_S, f"the email to {recipient} about {reservation_id}", interval=0.2)


def _expect_row_succeeds(page: Any, execution_name: str) -> Any:
    """The executions table's row for one execution, once the page's own polling shows it SUCCEEDED."""
    row = page.locator("#executions tbody tr", has_text=execution_name)
    expect(row.locator(".status")).to_have_text("SUCCEEDED", timeout=DOM_TIMEOUT_MS)
    return row


def test_console_follows_a_booking_to_its_confirmation_in_a_browser(
    browser: Browser, local_cloud: RunningCloud
) -> None:
    # Given the executions page open while a booking is made through the API
    page = browser.context.new_page()
    page.goto(local_cloud.console_url)
    guest = f"ada-{uuid.uuid4().hex[:8]}@guest.example.org"
    reservation_id = book(local_cloud, guest)
    (booked,) = _executions_for(local_cloud, reservation_id, 1)

    # When its execution shows up and succeeds, and is opened
    booked_row = _expect_row_succeeds(page, booked["name"])
    browser.screenshot(page, "executions")
    booked_row.get_by_role("link", name=booked["name"]).click()
    page.wait_for_url("**/execution?arn=*")

    # Then its graph marks the restaurant email's state succeeded, and its history ends in success
    graph = page.locator("svg.graph")
    expect(graph.locator('[data-state="SendRestaurantEmail"]')).to_have_attribute("data-outcome", "succeeded")
    expect(graph.locator('[data-state="SendGuestEmail"]')).to_have_attribute("data-outcome", "not-reached")
    history_types = page.locator("#history tbody tr td:nth-child(2)").all_text_contents()
    assert history_types[0] == "ExecutionStarted" and history_types[-1] == "ExecutionSucceeded"
    assert "TaskSucceeded" in history_types
    browser.screenshot(page, "execution", full_page=True)

    # When the restaurant's email is opened in the outbox and its link followed to the page that confirms
    email_file = _email_file(local_cloud, reservation_id, RESTAURANT_EMAIL)
    page.get_by_role("link", name="Outbox", exact=True).click()
    page.locator(f'#outbox a[href*="{email_file}"]').click()
    email = page.frame_locator("iframe.email")
    expect(email.locator("body")).to_contain_text(reservation_id)
    browser.screenshot(page, "outbox")
    with browser.context.expect_page() as opened:
        email.get_by_role("link", name="Confirm the reservation").click()
    confirmation = opened.value
    confirmation.wait_for_load_state()
    assert confirmation.url.startswith(f"{local_cloud.api_url}confirmReservation/{reservation_id}?token=")
    browser.screenshot(confirmation, "confirmation")
    confirmation.get_by_role("button", name="Confirm this reservation").click()
    expect(confirmation.locator("h1")).to_contain_text("Reservation confirmed")

    # Then the guest's email and the second execution arrive, and the execution succeeds
    guest_file = _email_file(local_cloud, reservation_id, guest)
    page.goto(local_cloud.console_url + f"outbox?email={guest_file}")
    expect(page.locator("#outbox tr.chosen")).to_contain_text(guest)
    _, confirmed = _executions_for(local_cloud, reservation_id, 2)
    page.goto(local_cloud.console_url)
    _expect_row_succeeds(page, confirmed["name"])
    # and the reservation is CONFIRMED, linked to both executions and both emails
    page.get_by_role("link", name="Reservations", exact=True).click()
    reservation = page.locator("#reservations tbody tr", has_text=reservation_id)
    expect(reservation.locator("td:nth-child(2)")).to_have_text("CONFIRMED")
    expect(reservation.locator('a[href*="execution?arn="]')).to_have_count(2)
    expect(reservation.locator('a[href*="outbox?email="]')).to_have_count(2)
    browser.screenshot(page, "reservations")


def _hostile_reservation(cloud: RunningCloud) -> str:
    """A PENDING reservation with a hostile first and last name, put straight into the table."""
    reservation_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    cloud.client("dynamodb").put_item(
        TableName=cloud.table_name("TablesReservations"),
        Item={
            "reservationId": {"S": reservation_id},
            "status": {"S": "PENDING"},
            "firstName": {"S": HOSTILE_ALERT},
            "lastName": {"S": HOSTILE_FLAG},
            "email": {"S": "mallory@guest.example.org"},
            "dateTime": {"S": "2031-06-02T20:00:00+01:00"},
            "partySize": {"N": "2"},
            "createdAt": {"S": now.isoformat(timespec="milliseconds")},
            "expiresAt": {"N": str(int(now.timestamp()) + 30 * 24 * 3600)},
        },
    )
    return reservation_id


def _hostile_execution(cloud: RunningCloud) -> str:
    """An execution whose input carries the hostile names, as an event from anyone who may put one would."""
    sfn = cloud.client("stepfunctions")
    event = {
        "source": "restaurant.booking",
        "detail-type": "OnRestaurantBooked",
        "detail": {"reservationId": HOSTILE_FLAG, "firstName": HOSTILE_ALERT},
    }
    arn = sfn.start_execution(stateMachineArn=cloud.state_machine_arn, input=json.dumps(event))["executionArn"]
    wait_for(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING",
        EMAIL_TIMEOUT_S,
        "the hostile execution to stop",
    )
    return arn


def _assert_nothing_ran(page: Any) -> None:
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("main img").count() == 0


def test_console_shows_hostile_guest_names_as_text_and_runs_nothing(
    browser: Browser, local_cloud: RunningCloud
) -> None:
    # Given a reservation with hostile names written straight into the table, whose email the workflow sent,
    reservation_id = _hostile_reservation(local_cloud)
    email_file = _email_file(local_cloud, reservation_id, RESTAURANT_EMAIL)
    # and an execution whose input carries them
    hostile_arn = _hostile_execution(local_cloud)
    page = browser.context.new_page()

    # When the reservations page shows it
    page.goto(local_cloud.console_url + "reservations")
    guest_cell = page.locator("#reservations tbody tr", has_text=reservation_id).locator("td:nth-child(3)")

    # Then the names are text
    expect(guest_cell).to_have_text(f"{HOSTILE_ALERT} {HOSTILE_FLAG}")
    _assert_nothing_ran(page)

    # When the execution with the hostile input is opened, its input unfolded
    page.goto(local_cloud.console_url + f"execution?arn={hostile_arn}")
    page.get_by_text("Execution input").click()

    # Then the input shows the names as text, and the failure is shown
    execution_input = page.locator("details", has_text="Execution input").locator("pre")
    expect(execution_input).to_contain_text(HOSTILE_ALERT)
    expect(execution_input).to_contain_text(HOSTILE_FLAG)
    expect(page.locator("#status")).to_have_text("FAILED")
    _assert_nothing_ran(page)

    # When the restaurant's email about the reservation is opened in the outbox
    page.goto(local_cloud.console_url + f"outbox?email={email_file}")
    email = page.frame_locator("iframe.email")

    # Then the email, in its sandboxed frame, shows the names as text and holds no image
    expect(email.locator("strong").first).to_have_text(f"{HOSTILE_ALERT} {HOSTILE_FLAG}")
    assert email.locator("img").count() == 0
    _assert_nothing_ran(page)
    browser.screenshot(page, "outbox-hostile-names")
