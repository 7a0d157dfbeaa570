"""Turn the loadgen results of every server into the Markdown tables run.py prints.

Ratios are always ours / peer (Node socket.io, python-socketio), each peer measured in the
same run; the "better" column says which direction wins for that row, so a reader does not
have to remember it per metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Row = tuple[str, str, Callable[[dict[str, Any]], Any]]


def _get(results: dict[str, Any], scenario: str, key: str) -> dict[str, Any] | None:
    return results.get("scenarios", {}).get(scenario, {}).get(key)


def _rows(keys: dict[str, list[str]]) -> list[tuple[str, str, str, str, str]]:
    """(label, better, scenario, key, field) for every figure the table shows."""
    rows = []
    for n in keys.get("S1", []):
        rows.append((f"S1 connect+auth N={n} (s)", "lower", "S1", n, "seconds"))
        rows.append((f"S1 failed connects N={n}", "lower", "S1", n, "failed"))
    for n in keys.get("S2", []):
        s2 = [
            ("join room, all at once (s)", "lower", "seconds"),
            ("failed joins (ack ok:false)", "lower", "join_failed"),
            ("joins with no ack in time", "lower", "ack_missing"),
            ("viewer_count_updated frames", "lower", "viewer_count_updates"),
            ("joiners whose last count = room size", "higher", "final_count_exact"),
        ]
        rows += [(f"S2 N={n} {label}", better, "S2", n, f) for label, better, f in s2]
    for key in keys.get("S3", []):
        n, rate = key.split("@")
        label = f"S3 N={n}, 5x{rate} msg/s"
        for field in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
            rows.append((f"{label} {field.replace('_ms', '')} (ms)", "lower", "S3", key, field))
        rows.append((f"{label} delivered of acked (%)", "higher", "S3", key, "delivered_pct"))
        rows.append((f"{label} acked ok (%)", "higher", "S3", key, "acked_ok_pct"))
        rows.append((f"{label} delivered of all sent (%)", "higher", "S3", key, "sent_pct"))
        rows.append((f"{label} lost deliveries", "lower", "S3", key, "lost"))
    for n in keys.get("S4", []):
        rows.append((f"S4 memory per connection N={n} (KB)", "lower", "S4", n, "kb_per_connection"))
    for room in keys.get("S5", []):
        rows.append(
            (f"S5 max chat rate held, room {room} (msg/s)", "higher", "S5", room, "max_rate_held")
        )
    return rows


def _value(results: dict[str, Any] | None, scenario: str, key: str, field: str) -> Any:
    if not results or results.get("failed"):
        return None
    entry = _get(results, scenario, key)
    if entry is None:
        return None
    if field == "seconds" and entry.get("seconds") is None and "seconds_waited" in entry:
        return f">{entry['seconds_waited']:.0f} (incomplete)"
    pct_of = {
        "delivered_pct": "delivered_ratio",
        "acked_ok_pct": "acked_ok_ratio",
        "sent_pct": "delivered_of_sent_ratio",
    }
    if field in pct_of:
        ratio = entry.get(pct_of[field])
        return None if ratio is None else round(100 * ratio, 2)
    return entry.get(field)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) < 1:
            return f"{value:.3g}"
        return f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _ratio(ours: Any, peer: Any) -> str:
    if not isinstance(ours, (int, float)) or not isinstance(peer, (int, float)) or not peer:
        return "-"
    return f"{ours / peer:.2f}"


def _keys(servers: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for results in servers.values():
        for scenario, entries in (results.get("scenarios") or {}).items():
            for key in entries:
                if key not in keys.setdefault(scenario, []):
                    keys[scenario].append(key)
    return keys


PEERS = (("node", "Node socket.io"), ("pysio", "python-socketio"))
SERVER_NAMES = (("ours", "ours"), *PEERS)


def markdown_report(servers: dict[str, dict[str, Any]]) -> str:
    """The comparison table, a CPU table (who was the bottleneck) and failure notes."""
    ours = servers.get("ours")
    peers = [(name, label) for name, label in PEERS if name in servers]
    shown = [(name, label) for name, label in SERVER_NAMES if name in servers]
    keys = _keys(servers)
    head = ["scenario", "better", *(label for _, label in shown)]
    head += [f"ours/{name}" for name, _ in peers] if ours else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, better, scenario, key, field in _rows(keys):
        values = {name: _value(servers[name], scenario, key, field) for name, _ in shown}
        cells = [label, better, *(_fmt(values[name]) for name, _ in shown)]
        if ours:
            cells += [_ratio(values["ours"], values[name]) for name, _ in peers]
        lines.append("| " + " | ".join(cells) + " |")

    cpu_head = ["scenario"]
    for _, label in shown:
        cpu_head += [f"{label}: server", f"{label}: loadgen"]
    lines += [
        "",
        "CPU during each scenario, % of one core (loadgen near 100 % = loadgen-bound):",
        "",
        "| " + " | ".join(cpu_head) + " |",
        "|" + "---|" * len(cpu_head),
    ]
    for scenario in ("S1", "S2", "S3"):
        for key in keys.get(scenario, []):
            cells = []
            for name, _ in shown:
                entry = _get(servers[name], scenario, key)
                cells += [
                    _fmt(entry.get("server_cpu_pct")) if entry else "-",
                    _fmt(entry.get("loadgen_cpu_pct")) if entry else "-",
                ]
            lines.append(f"| {scenario} {key} | " + " | ".join(cells) + " |")
    for room in keys.get("S5", []):
        cells = []
        for name, _ in shown:
            entry = _get(servers[name], "S5", room)
            steps = entry.get("steps", []) if entry else []
            last = steps[-1] if steps else {}
            cells += [_fmt(last.get("server_cpu_pct")), _fmt(last.get("loadgen_cpu_pct"))]
        lines.append(f"| S5 {room} (last step) | " + " | ".join(cells) + " |")

    notes = []
    for name, results in servers.items():
        if results.get("failed"):
            notes.append(f"- **{name} failed**: {results['failed']}")
        if results.get("aborted"):
            notes.append(f"- {name}: {results['aborted']}")
        for room, entry in (results.get("scenarios", {}).get("S5") or {}).items():
            notes.append(f"- {name} S5 room {room} stopped: {entry.get('stopped_because')}")
        if results.get("unexpected_closes_total"):
            reasons = results.get("unexpected_close_reasons") or {}
            why = "; ".join(f"{count}x {reason}" for reason, count in reasons.items())
            notes.append(
                f"- {name}: {results['unexpected_closes_total']} connections "
                f"closed by the server during the run{f' ({why})' if why else ''}"
            )
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"
