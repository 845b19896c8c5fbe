"""``make bench`` reads wrk's report; a misread unit or a missed error would make its figures lie."""

from __future__ import annotations

import pytest

from backend.bench.http import BenchError, parse_wrk

REPORT = """Running 10s test @ http://127.0.0.1:40000/json
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  600.00us  15.00ms   90.00%
    Req/Sec     7.60k   300.00     8.00k    70.00%
  Latency Distribution
     50%  {p50}
     75%    2.20ms
     90%    2.50ms
     99%  {p99}
  75600 requests in 10.00s, 10.30MB read
{extra}Requests/sec:   7559.12
Transfer/sec:      1.03MB
"""


@pytest.mark.parametrize(
    ("p50", "p99", "p50_ms", "p99_ms"),
    [("850.00us", "3.41ms", 0.85, 3.41), ("1.95ms", "1.20s", 1.95, 1200.0), ("12.00ms", "1.00m", 12.0, 60_000.0)],
)
def test_units(p50: str, p99: str, p50_ms: float, p99_ms: float) -> None:
    result = parse_wrk(REPORT.format(p50=p50, p99=p99, extra=""))
    assert result.requests_per_second == 7559.12
    assert result.requests == 75600
    assert result.p50_ms == pytest.approx(p50_ms)
    assert result.p99_ms == pytest.approx(p99_ms)


@pytest.mark.parametrize(
    "extra",
    ["  Non-2xx or 3xx responses: 12\n", "  Socket errors: connect 0, read 3, write 0, timeout 0\n"],
)
def test_errors_fail_loudly(extra: str) -> None:
    with pytest.raises(BenchError):
        parse_wrk(REPORT.format(p50="1.00ms", p99="2.00ms", extra=extra))


def test_zero_socket_errors_are_fine() -> None:
    extra = "  Socket errors: connect 0, read 0, write 0, timeout 0\n"
    assert parse_wrk(REPORT.format(p50="1.00ms", p99="2.00ms", extra=extra)).p99_ms == 2.0
