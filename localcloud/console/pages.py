"""The console's HTML, built server-side with every piece of data passed through ``html.escape``.

Data reaches these pages by many paths (a guest's name written straight to the table, an email body, a state
name), so nothing here trusts it: text is escaped, links are built from quoted parameters, and the only script
is the static file ``static/console.js``, which builds the DOM with ``textContent``. Every value from the data is
also set in its own ``<bdi>``, so a direction control inside it (U+202E) cannot reorder the text around it.
"""

import contextlib
import json
import re
from html import escape
from typing import Any
from urllib.parse import urlencode

from localcloud.console.data import Email, ExecutionDetail, ExecutionSummary, Reservation, format_time
from localcloud.console.graph import COLOURS, render_svg
from localcloud.console.timeline import OUTCOMES, history_rows, state_outcomes

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# A failure's cause as one line in a table row; the whole of it stays in the row's item JSON.
MAX_FAILURE_CAUSE = 120

# Email HTML runs in a frame with no script and no origin; links open in a new top-level tab, where the
# restaurant's confirmation page works as it would from a mail client.
EMAIL_SANDBOX = "allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"


def url(root: str, path: str, **query: str) -> str:
    """A URL under the console's mount point (``root`` is the request's script root)."""
    return f"{root}/{path}" + (f"?{urlencode(query)}" if query else "")


def link(root: str, path: str, **query: str) -> str:
    """The same URL, escaped for an HTML attribute."""
    return escape(url(root, path, **query))


def layout(root: str, title: str, body: str, api_url: str | None = None, **data: str) -> str:
    """A whole page: head, navigation and ``body``; ``data`` becomes ``data-*`` attributes read by the script.

    The empty icon keeps browsers from asking the edge for ``/favicon.ico``, which it does not serve.
    """
    attributes = "".join(f' data-{name}="{escape(value)}"' for name, value in {"root": root, **data}.items())
    api = f'<a href="{escape(api_url)}" target="_blank" rel="noopener">API</a>' if api_url else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} · local cloud</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{link(root, "static/console.css")}">
<script src="{link(root, "static/console.js")}" defer></script>
</head>
<body{attributes}>
<nav><strong>local cloud</strong>
<a href="{link(root, "executions")}">Executions</a>
<a href="{link(root, "outbox")}">Outbox</a>
<a href="{link(root, "reservations")}">Reservations</a>
{api}</nav>
<main>
<h1>{escape(title)}</h1>
{body}
</main>
</body>
</html>
"""


def executions_page(root: str, executions: list[ExecutionSummary], status: str | None, api_url: str | None) -> str:
    """Every execution, newest first, with a status filter; the script refreshes the table while it is open."""
    options = "".join(
        f'<option value="{value}"{" selected" if value == (status or "") else ""}>{label}</option>'
        for value, label in [("", "any status"), *((s, s) for s in STATUSES)]
    )
    body = f"""<form method="get" action="{link(root, "executions")}" class="filter">
<label>Status <select name="status" id="status-filter">{options}</select></label>
<button type="submit">Filter</button>
<span id="refreshed" class="muted"></span>
</form>
<table id="executions"><thead><tr>
<th>State machine</th><th>Name</th><th>Status</th><th>Start</th><th>Stop</th><th>Duration</th>
</tr></thead>
<tbody>{"".join(_execution_row(root, execution) for execution in executions)}</tbody></table>
<p class="muted" id="empty"{" hidden" if executions else ""}>No executions yet.</p>"""
    poll = url(root, "api/executions", **({"status": status} if status else {}))
    return layout(root, "Executions", body, api_url, page="executions", poll=poll)


def execution_page(root: str, detail: ExecutionDetail, api_url: str | None) -> str:
    """One execution: its graph coloured by outcome, its input and output, and its event history."""
    summary = detail.summary
    outcomes = state_outcomes(detail.events, summary.status)
    legend = "".join(
        f'<span class="swatch" style="background:{COLOURS[outcome][0]};border-color:{COLOURS[outcome][1]}">'
        f"{escape(outcome)}</span>"
        for outcome in OUTCOMES
    )
    failure = ""
    if detail.error or detail.cause:
        failure = (
            f'<dt>Error</dt><dd class="error">{_data(detail.error)}</dd><dt>Cause</dt><dd>{_pre(detail.cause)}</dd>'
        )
    body = f"""<dl class="summary">
<dt>State machine</dt><dd>{_data(summary.state_machine)}</dd>
<dt>Status</dt><dd><span class="status status-{escape(summary.status)}" id="status">{escape(summary.status)}</span></dd>
<dt>Start</dt><dd>{escape(format_time(summary.start))}</dd>
<dt>Stop</dt><dd>{escape(format_time(summary.stop)) if summary.stop else ""}</dd>
<dt>Duration</dt><dd>{_duration(summary.duration_ms)}</dd>
<dt>ARN</dt><dd><code>{_data(summary.arn)}</code></dd>
{failure}
</dl>
<details><summary>Execution input</summary>{_pre(detail.input)}</details>
<details><summary>Execution output</summary>{_pre(detail.output)}</details>
<h2>Graph</h2>
<p class="legend">{legend}</p>
<div class="graph-box">{render_svg(detail.definition, outcomes)}</div>
<h2>History</h2>
{_history_table(detail.events)}"""
    return layout(
        root,
        f"Execution {summary.name}",
        body,
        api_url,
        page="execution",
        poll=url(root, "api/execution", arn=summary.arn),
        status=summary.status,
        events=str(len(detail.events)),
    )


def outbox_page(root: str, emails: list[Email], chosen: Email | None, api_url: str | None) -> str:
    """Every email of the outbox, and the chosen one rendered in a sandboxed frame."""
    rows = "".join(
        ("<tr class='chosen'>" if chosen and email.name == chosen.name else "<tr>")
        + f"<td>{escape(format_time(email.time))}</td><td>{_data(email.recipient)}</td>"
        f'<td><a href="{link(root, "outbox", email=email.name)}">{_data(email.subject) or "(no subject)"}</a></td>'
        f"<td>{_data(email.sender)}</td></tr>"
        for email in emails
    )
    shown = ""
    if chosen is not None:
        content = (
            f'<iframe class="email" title="email body" sandbox="{EMAIL_SANDBOX}" referrerpolicy="no-referrer" '
            f'src="{link(root, "outbox/html", email=chosen.name)}"></iframe>'
            if chosen.html is not None
            else _pre(chosen.text)
        )
        shown = f"""<section class="email-view">
<h2>{_data(chosen.subject)}</h2>
<dl class="summary"><dt>To</dt><dd>{_data(chosen.recipient)}</dd><dt>From</dt><dd>{_data(chosen.sender)}</dd>
<dt>Time</dt><dd>{escape(format_time(chosen.time))}</dd><dt>File</dt><dd><code>{_data(chosen.name)}</code></dd></dl>
<p class="muted">Links in the email open in a new tab: the restaurant can confirm a booking from here.</p>
{content}
<details><summary>Plain text</summary>{_pre(chosen.text)}</details>
</section>"""
    body = f"""<table id="outbox"><thead><tr><th>Time</th><th>To</th><th>Subject</th><th>From</th></tr></thead>
<tbody>{rows}</tbody></table>
<p class="muted"{" hidden" if emails else ""}>The outbox is empty.</p>
{shown}"""
    return layout(root, "Outbox", body, api_url, page="outbox")


def email_document(email: Email) -> str:
    """The email's HTML for its sandboxed frame, with links sent to a new tab rather than into the frame."""
    html = email.html or ""
    base = '<base target="_blank">'
    head = re.search(r"<head[^>]*>", html, flags=re.IGNORECASE)
    if head:
        return html[: head.end()] + base + html[head.end() :]
    return base + html


def reservations_page(root: str, reservations: list[Reservation], api_url: str | None) -> str:
    """Every reservation, with its status, its guest, and links to its executions and emails."""
    rows = "".join(_reservation_row(root, reservation) for reservation in reservations)
    body = f"""<table id="reservations"><thead><tr>
<th>Reservation</th><th>Status</th><th>Guest</th><th>When</th><th>Party</th><th>Created</th>
<th>Executions</th><th>Emails</th><th>Item</th></tr></thead>
<tbody>{rows}</tbody></table>
<p class="muted"{" hidden" if reservations else ""}>No reservations yet.</p>"""
    return layout(root, "Reservations", body, api_url, page="reservations")


def message_page(root: str, title: str, message: str) -> str:
    """A short page for a missing execution or email, or an endpoint that does not answer."""
    return layout(root, title, f'<p class="error">{escape(message)}</p>')


def _execution_row(root: str, execution: ExecutionSummary) -> str:
    return (
        f"<tr><td>{_data(execution.state_machine)}</td>"
        f'<td><a href="{link(root, "execution", arn=execution.arn)}">{_data(execution.name)}</a></td>'
        f'<td><span class="status status-{escape(execution.status)}">{escape(execution.status)}</span></td>'
        f"<td>{escape(format_time(execution.start))}</td>"
        f"<td>{escape(format_time(execution.stop)) if execution.stop else ''}</td>"
        f"<td>{_duration(execution.duration_ms)}</td></tr>"
    )


def _history_table(events: list[dict[str, Any]]) -> str:
    rows = []
    for row in history_rows(events):
        notes = []
        if row.attempt and row.attempt > 1:
            notes.append(f'<span class="retry">attempt {row.attempt}</span>')
        if row.retried:
            notes.append('<span class="retry">retried</span>')
        if row.error or row.cause:
            notes.append(f'<div class="error">{_data(row.error)}</div>{_pre(row.cause)}')
        if row.input is not None:
            notes.append(f"<details><summary>input</summary>{_pre(row.input)}</details>")
        if row.output is not None:
            notes.append(f"<details><summary>output</summary>{_pre(row.output)}</details>")
        failed = ' class="failure"' if row.error else ""
        rows.append(
            f"<tr{failed}><td>{row.id}</td><td>{escape(row.type)}</td><td>{_data(row.state)}</td>"
            f'<td>{escape(format_time(row.time))}</td><td class="number">{row.elapsed_ms}</td>'
            f"<td>{''.join(notes)}</td></tr>"
        )
    return f"""<table id="history"><thead><tr>
<th>#</th><th>Type</th><th>State</th><th>Time</th><th>Elapsed ms</th><th>Details</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""


def _reservation_row(root: str, reservation: Reservation) -> str:
    item = reservation.item
    guest = " ".join(_data(item[part]) for part in ("firstName", "lastName") if item.get(part) is not None)
    executions = "<br>".join(
        f'<a href="{link(root, "execution", arn=execution.arn)}">{_data(execution.name)}</a> '
        f'<span class="status status-{escape(execution.status)}">{escape(execution.status)}</span>'
        for execution in reservation.executions
    )
    emails = "<br>".join(
        f'<a href="{link(root, "outbox", email=email.name)}">{_data(email.subject) or "(no subject)"}</a>'
        for email in reservation.emails
    )
    failure = item.get("emailFailure")
    note = ""
    if failure:
        error, cause = failure_summary(failure)
        note = f'<div class="failure-note"><span class="error">{_data(error)}</span> {_data(cause)}</div>'
    return (
        f"<tr><td><code>{_data(reservation.reservation_id)}</code>"
        f'<div class="muted">{_data(reservation.table)}</div></td>'
        f'<td><span class="status status-{escape(reservation.status)}">{_data(reservation.status)}</span>{note}</td>'
        f"<td>{guest}</td><td>{_data(item.get('dateTime'))}</td><td>{_data(item.get('partySize'))}</td>"
        f"<td>{_data(item.get('createdAt'))}</td><td>{executions}</td><td>{emails}</td>"
        f"<td><details><summary>item</summary>{_pre(json.dumps(item, indent=2, default=str))}</details></td></tr>"
    )


def failure_summary(failure: object) -> tuple[str, str]:
    """A recorded ``emailFailure`` as its error name and one short line of cause, for a table cell.

    A Lambda error's cause is JSON with ``errorMessage``, ``errorType`` and a stack trace: only the message is
    kept. Any other cause gives its first line. Either is cut to ``MAX_FAILURE_CAUSE`` characters.
    """
    if not isinstance(failure, dict):
        return "", _one_line(str(failure))
    error = str(failure.get("error") or "")
    cause = failure.get("cause")
    text = "" if cause is None else str(cause)
    with contextlib.suppress(ValueError):
        parsed = json.loads(text)
        if isinstance(parsed, dict) and parsed.get("errorMessage") is not None:
            text = str(parsed["errorMessage"])
    return error, _one_line(text)


def _one_line(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    flat = " ".join(first.split())
    return flat if len(flat) <= MAX_FAILURE_CAUSE else flat[: MAX_FAILURE_CAUSE - 1] + "…"


def _data(value: object) -> str:
    """A value from the data, escaped and isolated from the text around it; nothing at all when there is none."""
    return "" if value is None or value == "" else f"<bdi>{escape(str(value))}</bdi>"


def _pre(value: str | None) -> str:
    """A block of data, pretty-printed when it is JSON."""
    if value is None:
        return '<pre class="muted">(none)</pre>'
    with contextlib.suppress(ValueError):
        value = json.dumps(json.loads(value), indent=2)
    return f"<pre>{escape(value)}</pre>"


def _duration(milliseconds: int | None) -> str:
    return "" if milliseconds is None else f"{milliseconds} ms"
