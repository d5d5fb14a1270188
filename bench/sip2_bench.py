"""SIP2 under a branch network's load: many idle kiosks, some busy ones.

Starts the demo gateway (embedded circulation back end) on a free port, opens
``--idle`` connections that log in, send one status message and then stay silent, and
runs ``--kiosks`` busy kiosks in threads, each repeating the self-check cycle

    63 patron information (with PIN) -> 11 checkout -> 29 renew -> 09 checkin

with its own patron and copies, for ``--seconds``. Every reply is checked (ok flags,
the right command); the idle connections are checked to be still open at the end.

Side by side, the same cycle is run in-process straight against the embedded back end
(no protocol, no network), so the table shows what the SIP2 layer costs as a ratio.

    python3 bench/sip2_bench.py [--idle 300] [--kiosks 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.config import load_config  # noqa: E402
from gateway.demo import DEMO_KIOSK_PASSWORD, DEMO_KIOSK_USER  # noqa: E402
from protocols.sip2.codec import (  # noqa: E402
    LineFramer,
    Message,
    decode_message,
    encode_message,
    sip_date,
)

LIBRARY = "dlk-tinh"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Kiosk:
    """One SIP2 connection speaking with our codec (bytes checked both ways)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.framer = LineFramer()
        self.sequence = 0
        self.pending: list[bytes] = []

    def ask(self, code: str, fixed: dict[str, str], fields: list[tuple[str, str]]) -> Message:
        """Send one request and read its reply."""
        self.sequence = (self.sequence + 1) % 10
        message = Message(code, fixed, fields, sequence=str(self.sequence))
        self.sock.sendall(encode_message(message))
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed by the gateway")
            self.pending.extend(self.framer.feed(data))
        return decode_message(self.pending.pop(0))

    def login(self) -> None:
        """93 with the demo kiosk account, then 99."""
        reply = self.ask("93", {"uid_algorithm": "0", "pwd_algorithm": "0"},
                         [("CN", DEMO_KIOSK_USER), ("CO", DEMO_KIOSK_PASSWORD)])  # fmt: skip
        assert reply.fixed["ok"] == "1", reply
        status = self.ask("99", {"status_code": "0", "max_print_width": "080",
                                 "protocol_version": "2.00"}, [])  # fmt: skip
        assert status.fixed["online_status"] == "Y", status

    def alive(self) -> bool:
        """True when the connection still answers a status message."""
        try:
            reply = self.ask("99", {"status_code": "0", "max_print_width": "080",
                                    "protocol_version": "2.00"}, [])  # fmt: skip
        except OSError:
            return False
        return reply.code == "98"


def _cycle_requests(
    patron: str, pin: str, item: str
) -> list[tuple[str, dict[str, str], list[tuple[str, str]], str]]:
    now = sip_date(datetime.now())
    blank = " " * 18
    who = [("AO", LIBRARY), ("AA", patron)]
    return [
        ("63", {"language": "000", "transaction_date": now, "summary": "  Y       "},
         [*who, ("AD", pin)], "64"),
        ("11", {"sc_renewal_policy": "N", "no_block": "N", "transaction_date": now,
                "nb_due_date": blank}, [*who, ("AB", item), ("AC", "")], "12"),
        ("29", {"third_party_allowed": "N", "no_block": "N", "transaction_date": now,
                "nb_due_date": blank}, [*who, ("AB", item)], "30"),
        ("09", {"no_block": "N", "transaction_date": now, "return_date": now},
         [("AP", "kiosk"), ("AO", LIBRARY), ("AB", item), ("AC", "")], "10"),
    ]  # fmt: skip


def _ok(reply: Message, expected: str) -> bool:
    if reply.code != expected:
        return False
    if expected == "64":
        return reply.get("BL") == "Y" and reply.get("CQ") == "Y"
    return reply.fixed.get("ok") == "1"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def _demo_people(folder: Path, kiosks: int) -> list[tuple[str, str, list[str]]]:
    """(patron barcode, PIN, copies to lend) per kiosk: distinct, all on the shelf."""
    with (folder / "patrons.csv").open(encoding="utf-8") as handle:
        patrons = [row for row in csv.DictReader(handle) if row["library"] == LIBRARY]
    with (folder / "loans.csv").open(encoding="utf-8") as handle:
        lent = {row["item_barcode"] for row in csv.DictReader(handle)}
    with (folder / "items.csv").open(encoding="utf-8") as handle:
        items = [row["barcode"] for row in csv.DictReader(handle)
                 if row["library"] == LIBRARY and row["barcode"] not in lent]  # fmt: skip
    chosen = []
    for n in range(kiosks):
        patron = patrons[n % len(patrons)]
        chosen.append((patron["barcode"], patron["pin"], items[n * 3 : n * 3 + 3]))
    return chosen


def _run_kiosk(port: int, people: tuple[str, str, list[str]], until: float, pause: float,
               latencies: list[float], errors: list[str]) -> None:  # fmt: skip
    patron, pin, items = people
    try:
        kiosk = Kiosk(port)
        kiosk.login()
        n = 0
        while time.monotonic() < until:
            item = items[n % len(items)]
            n += 1
            for code, fixed, fields, expected in _cycle_requests(patron, pin, item):
                started = time.perf_counter()
                reply = kiosk.ask(code, fixed, fields)
                latencies.append((time.perf_counter() - started) * 1000)
                if not _ok(reply, expected):
                    errors.append(f"{code}: {reply.fields[-1:]}")
                if pause:
                    time.sleep(pause)
    except (OSError, AssertionError) as error:
        errors.append(f"kiosk {patron[-4:]}: {error}")


def _phase(port: int, people: list[tuple[str, str, list[str]]], seconds: float,
           pause: float) -> tuple[list[float], list[str], float]:  # fmt: skip
    """Every kiosk's cycle for ``seconds``: latencies, errors, elapsed time."""
    latencies: list[float] = []
    errors: list[str] = []
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=_run_kiosk, args=(port, p, until, pause, latencies,
                                                         errors)) for p in people]  # fmt: skip
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.monotonic() - started


def _in_process(folder: Path, people: list[tuple[str, str, list[str]]],
                seconds: float) -> tuple[int, list[float]]:  # fmt: skip
    """The same cycle straight against the embedded back end, one thread per kiosk."""
    from gateway.circulation.backends import open_backend

    config = load_config(folder / "lienthong.yaml")
    backend = open_backend(config, "embedded")
    until = time.monotonic() + seconds
    latencies: list[float] = []

    def run(person: tuple[str, str, list[str]]) -> None:
        patron, pin, items = person
        n = 0
        while time.monotonic() < until:
            item = items[n % len(items)]
            n += 1
            for step in range(4):
                started = time.perf_counter()
                if step == 0:
                    backend.patron(LIBRARY, patron)
                    backend.check_pin(LIBRARY, patron, pin)
                elif step == 1:
                    backend.checkout(LIBRARY, patron, item, datetime.now())
                elif step == 2:
                    backend.renew(LIBRARY, patron, item, datetime.now())
                else:
                    backend.checkin(LIBRARY, item, datetime.now())
                latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=run, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), latencies


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=300)
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--pause",
        type=float,
        default=0.1,
        help="seconds each kiosk waits between transactions in the paced phase",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        port, http = _free_port(), _free_port()
        env = dict(os.environ, PYTHONPATH=str(REPO))
        log = open(Path(tmp) / "server.log", "w+", encoding="utf-8")  # noqa: SIM115
        server = subprocess.Popen([sys.executable, "-m", "gateway", "demo", "--dir", str(folder),
                                   "--sip2-port", str(port), "--http-port", str(http),
                                   "--z3950-port", str(_free_port())],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            _wait(port, server)
            people = _demo_people(folder, args.kiosks)
            idle = []
            for _ in range(args.idle):
                kiosk = Kiosk(port)
                kiosk.login()
                idle.append(kiosk)
            phases = []
            for name, pause in (
                ("flat out", 0.0),
                (f"{args.pause * 1000:.0f} ms pause", args.pause),
            ):
                offset = Path(log.name).stat().st_size
                latencies, errors, elapsed = _phase(port, people, args.seconds, pause)
                log.flush()
                phases.append((name, latencies, errors, elapsed, offset))
            dropped = sum(1 for kiosk in idle if not kiosk.alive())
        finally:
            server.terminate()
            server.wait(30)
            log.seek(0)
            text = log.read()
            log.close()
        count, direct = _in_process(folder, people, args.seconds)
    print(
        f"SIP2 bench: {args.idle} idle connections, {args.kiosks} busy kiosks, "
        f"{args.seconds:.0f} s per phase, cycle 63/11/29/09\n"
    )
    print("| phase | measured | transactions/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---:|---:|---:|---:|")
    ends = [offset for *_, offset in phases[1:]] + [len(text.encode())]
    total_errors: list[str] = []
    for (name, latencies, errors, elapsed, offset), end in zip(phases, ends, strict=True):
        rate = len(latencies) / elapsed
        inside = _gateway_latencies(text.encode()[offset:end].decode("utf-8", "replace"))
        for where, values in (("kiosk round trip", latencies), ("in the gateway", inside)):
            print(
                f"| {name} | {where} | {rate:,.0f} | {statistics.median(values):.2f} | "
                f"{_percentile(values, 0.95):.2f} | {_percentile(values, 0.99):.2f} |"
            )
        total_errors += errors
    direct_rate = count / args.seconds
    print(
        f"| flat out | back end in-process | {direct_rate:,.0f} | "
        f"{statistics.median(direct):.2f} | {_percentile(direct, 0.95):.2f} | "
        f"{_percentile(direct, 0.99):.2f} |"
    )
    flat_rate = len(phases[0][1]) / phases[0][3]
    errors = total_errors
    print(f"\nratio (SIP2 flat out / in-process throughput): {flat_rate / direct_rate:.2f}")
    print(f"errors: {len(errors)}; idle connections dropped: {dropped} of {args.idle}")
    for error in errors[:10]:
        print("  ", error)


_LOGGED = re.compile(r"\] sip2 \S+ (11|09|29|63) \S.* ([0-9.]+) ms$", re.MULTILINE)


def _gateway_latencies(log: str) -> list[float]:
    """The gateway's own time per transaction of the cycle (from a request's arrival at
    the thread pool to its reply), from the log's transaction lines."""
    return [float(match.group(2)) for match in _LOGGED.finditer(log)]


def _wait(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the gateway exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the gateway did not listen in time")


if __name__ == "__main__":
    main()
