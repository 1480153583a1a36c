"""deploy/grafana/pgflight.json against the binary: every metric (and every label a panel groups
or filters by) that the dashboard queries is one a running pgflight exports on /metrics after a
few calls of each kind, and every metric it exports has a panel."""

from __future__ import annotations

import json
import re

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight
import pytest

from conftest import PASSWORDS, REPO

DASHBOARD = REPO / "deploy" / "grafana" / "pgflight.json"
#: Labels Prometheus adds when it scrapes, and the histogram's bucket bound.
SCRAPE_LABELS = {"instance", "job", "le"}
#: PromQL words that are neither metrics nor labels.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}


def expressions(node) -> list[str]:
    """Every PromQL expression in the dashboard: panel targets and query variables."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(expressions(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(expressions(item))
    return found


def metrics_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the label names one expression uses."""
    labels = set()
    for matchers in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    for grouping in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels |= {name.strip() for name in grouping.split(",") if name.strip()}
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = bare.replace("label_values(", "label_values_(")  # Grafana's variable query: its 2nd argument is a label
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\b(?!\s*\()", bare):
        name = match.group(1)
        if name not in KEYWORDS and not re.fullmatch(r"\d.*|e\d+", name):
            names.add(name)
    variable = re.search(r"label_values_\(\s*([\w:]+)\s*,\s*(\w+)\s*\)", bare)
    if variable:
        names.discard(variable.group(2))
        labels.add(variable.group(2))
    return names, labels


def scrape(text: str) -> dict[str, set[str]]:
    """Sample name → its label names, from the Prometheus text format."""
    samples: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s", line)
        if match and not line.startswith("#"):
            samples.setdefault(match.group(1), set()).update(re.findall(r"(\w+)=\"", match.group(2) or ""))
    return samples


def family(sample: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", sample)


@pytest.fixture
def busy_server(database, start_server, users_file):
    """A server after calls of every kind: logins good and bad, reads, a missing table, SQL
    PostgreSQL refuses."""
    database.execute("CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 50) g")
    server = start_server(env={"PGFLIGHT_AUTH": "password", "PGFLIGHT_USERS_FILE": str(users_file),
                               "PGFLIGHT_METRICS_AUTH": "false"})
    user, password = PASSWORDS[0]
    client = flight.FlightClient(server.grpc_uri)
    options = flight.FlightCallOptions(headers=[client.authenticate_basic_token(user, password)])
    list(client.list_flights(options=options))
    info = client.get_flight_info(flight.FlightDescriptor.for_path("public", "t"), options)
    assert client.do_get(info.endpoints[0].ticket, options).read_all().num_rows == 50
    with pytest.raises(KeyError, match="not found"):  # pyarrow's NOT_FOUND
        client.get_flight_info(flight.FlightDescriptor.for_path("public", "missing"), options)
    with pytest.raises(flight.FlightUnauthenticatedError):
        client.authenticate_basic_token(user, password + "x")
    with flightsql.connect(server.grpc_uri, db_kwargs={"username": user, "password": password}, autocommit=True) as conn:
        with conn.cursor() as cur, pytest.raises(Exception, match="(?i)division by zero"):
            cur.execute("SELECT 1 / (id - id) FROM t")
            cur.fetchall()
    return server


def test_every_metric_the_dashboard_queries_is_exported(busy_server):
    status, text = busy_server.get("/metrics")
    assert status == 200
    exported = scrape(text)
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = expressions(dashboard["panels"]) + expressions(dashboard["templating"])
    assert len(exprs) >= 10
    queried: set[str] = set()
    for expr in exprs:
        names, labels = metrics_and_labels(expr)
        assert names, f"no metric found in {expr!r}"
        unknown = sorted(names - set(exported))
        assert not unknown, f"{expr!r} queries {unknown}, which pgflight does not export (it exports {sorted(exported)})"
        have = set().union(*(exported[name] for name in names)) | SCRAPE_LABELS
        assert labels <= have, f"{expr!r} uses labels {sorted(labels - have)} that {sorted(names)} do not carry"
        queried |= {family(name) for name in names}
    ours = {family(name) for name in exported if name.startswith(("flight_", "postgres_"))}
    assert ours - queried == set(), "exported metrics without a panel"


def test_the_expression_reader_finds_metrics_and_labels():
    names, labels = metrics_and_labels(
        'histogram_quantile(0.95, sum by (kind, le) (rate(postgres_query_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))'
    )
    assert names == {"postgres_query_duration_seconds_bucket"} and labels == {"kind", "le", "instance"}
    names, labels = metrics_and_labels("sum(rate(a_total[5m])) / clamp_min(sum(rate(b_total[5m])), 1e-9)")
    assert names == {"a_total", "b_total"} and labels == set()
    assert metrics_and_labels("label_values(flight_requests_total, instance)") == ({"flight_requests_total"}, {"instance"})
