"""End-to-end latency of the booking flow on a running local cloud (a script, not a test).

Makes N bookings over HTTP with bounded concurrency; for each, measures the time from the booking request to
the restaurant's email landing in the outbox, then follows the emailed link (GET the page, POST its form) and
measures the time from the confirmation to the guest's email. Prints p50/p95/p99 of both and the rate of
bookings. Talks to 127.0.0.1 only and stops at the total time limit, whatever is left.

    .venv/bin/python -m localcloud up --port 4566 &
    .venv/bin/python benchmarks/e2e_latency.py --endpoint http://127.0.0.1:4566 --bookings 200 --concurrency 8
"""

import argparse
import email
import email.policy
import json
import re
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LINK = re.compile(r"https?://127\.0\.0\.1:\d+/\S+/confirmReservation/(?P<id>[0-9a-f-]{36})\?token=\S+")
_RESERVATION = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _request(method: str, url: str, body: bytes | None = None, content_type: str | None = None) -> tuple[int, str]:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"refusing a non-loopback URL: {url}")
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 - loopback only, checked above
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only, checked above
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass
class Arrival:
    """An email seen in the outbox: when it was written and, for the restaurant's, its confirmation link."""

    written_at: float
    link: str | None


class OutboxWatcher:
    """Scans the outbox folder and wakes whoever waits for a reservation's email."""

    def __init__(self, outbox: Path, interval_s: float = 0.05) -> None:
        self._outbox = outbox
        self._interval_s = interval_s
        self._seen: set[str] = set()
        self._arrivals: dict[tuple[str, str], Arrival] = {}
        self._changed = threading.Condition()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._seen = {path.name for path in self._outbox.glob("*.eml")}  # emails from before this run
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def wait(self, reservation_id: str, kind: str, deadline: float) -> Arrival | None:
        with self._changed:
            while (reservation_id, kind) not in self._arrivals:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(min(remaining, 1.0))
            return self._arrivals[(reservation_id, kind)]

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            for path in sorted(self._outbox.glob("*.eml")):
                if path.name not in self._seen:
                    self._seen.add(path.name)
                    self._read(path)

    def _read(self, path: Path) -> None:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""
        link = _LINK.search(text)
        reservation = link.group("id") if link else (_RESERVATION.findall(text) or [None])[-1]
        if reservation is None:
            return
        arrival = Arrival(path.stat().st_mtime, link.group(0) if link else None)
        with self._changed:
            self._arrivals[(reservation, "restaurant" if link else "guest")] = arrival
            self._changed.notify_all()


@dataclass
class Outcome:
    """The two latencies of one booking, None where it did not finish in time."""

    to_restaurant_s: float | None = None
    to_guest_s: float | None = None
    error: str | None = None


def one_booking(number: int, api_url: str, watcher: OutboxWatcher, deadline: float) -> Outcome:
    booking = {
        "firstName": "Bench",
        "lastName": f"Mark{number}",
        "email": f"guest{number}@bench.example.org",
        "dateTime": "2031-06-01T19:30:00+01:00",
        "partySize": 1 + number % 8,
    }
    started = time.time()
    status, text = _request("POST", api_url + "bookRestaurant", json.dumps(booking).encode(), "application/json")
    if status != 201:
        return Outcome(error=f"booking answered {status}")
    reservation_id = json.loads(text)["reservationId"]
    restaurant = watcher.wait(reservation_id, "restaurant", deadline)
    if restaurant is None or restaurant.link is None:
        return Outcome(error="no restaurant email in time")
    outcome = Outcome(to_restaurant_s=restaurant.written_at - started)
    page_status, _ = _request("GET", restaurant.link)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(restaurant.link).query)["token"][0]
    form = urllib.parse.urlencode({"token": token}).encode()
    confirmed_at = time.time()
    confirm_status, _ = _request("POST", restaurant.link.split("?", 1)[0], form, "application/x-www-form-urlencoded")
    if (page_status, confirm_status) != (200, 200):
        outcome.error = f"confirmation answered {page_status}/{confirm_status}"
        return outcome
    guest = watcher.wait(reservation_id, "guest", deadline)
    if guest is None:
        outcome.error = "no guest email in time"
        return outcome
    outcome.to_guest_s = guest.written_at - confirmed_at
    return outcome


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "not enough samples"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49] * 1000:7.0f} ms   p95 {cuts[94] * 1000:7.0f} ms   p99 {cuts[98] * 1000:7.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="http://127.0.0.1:4566", help="the local cloud's edge (loopback)")
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds for the whole run, at most")
    arguments = parser.parse_args()
    if not 1 <= arguments.concurrency <= 32 or not 1 <= arguments.bookings <= 1000:
        parser.error("bookings 1-1000 and concurrency 1-32 keep the run bounded")

    status, text = _request("GET", arguments.endpoint.rstrip("/") + "/_localcloud/health")
    health: dict[str, Any] = json.loads(text)
    if status != 200 or not health.get("ready"):
        print(f"the local cloud at {arguments.endpoint} is not ready", file=sys.stderr)
        return 1
    watcher = OutboxWatcher(Path(health["outbox"]))
    watcher.start()
    deadline = time.monotonic() + arguments.time_limit
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=arguments.concurrency) as pool:
        futures = [
            pool.submit(one_booking, number, health["apiUrl"], watcher, deadline)
            for number in range(arguments.bookings)
        ]
        outcomes = [future.result() for future in futures]
    elapsed = time.monotonic() - started
    watcher.stop()

    to_restaurant = [item.to_restaurant_s for item in outcomes if item.to_restaurant_s is not None]
    to_guest = [item.to_guest_s for item in outcomes if item.to_guest_s is not None]
    errors = [item.error for item in outcomes if item.error]
    print(f"bookings {arguments.bookings}, concurrency {arguments.concurrency}, wall time {elapsed:.1f} s")
    print(f"booking -> restaurant email   ({len(to_restaurant)} done)   {percentiles(to_restaurant)}")
    print(f"confirmation -> guest email   ({len(to_guest)} done)   {percentiles(to_guest)}")
    print(f"complete bookings per second  {len(to_guest) / elapsed:.2f}")
    if errors:
        print(f"{len(errors)} incomplete: {sorted(set(errors))}")
    return 0 if not errors else 2


if __name__ == "__main__":
    sys.exit(main())
