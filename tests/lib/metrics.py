"""GET /metrics read back: parsed by the Prometheus client's own parser, or
one unlabelled gauge read off the text."""
import re

from prometheus_client.parser import text_string_to_metric_families


def scrape(curl, server):
    result = curl(server.url + "/metrics")
    assert result.status == 200, result.describe()
    assert result.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(result.body.decode())}
    return families


def sample(families, family, name=None, **labels):
    """The value of the one sample of `family` whose labels include `labels`."""
    values = [s.value for s in families[family].samples
              if (name is None or s.name == name)
              and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(values) == 1, (family, labels, families[family].samples)
    return values[0]


def metric(curl, srv, name):
    """The value of an unlabelled gauge in /metrics, over plain HTTP."""
    result = curl(srv.url + "/metrics")
    assert result.status == 200, result.describe()
    match = re.search(rf"^{name} (\d+)$", result.body.decode(), re.MULTILINE)
    assert match, f"no {name} in /metrics:\n{result.body.decode()}"
    return int(match.group(1))
