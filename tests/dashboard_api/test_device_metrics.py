"""A series of a metric the device does not have is a wrong question: a 422 that names the
metrics the device has, never an empty 200 that looks like a silent sensor."""

from __future__ import annotations

import httpx


async def test_a_metric_the_device_does_not_have_is_a_422_naming_its_metrics(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/api/devices/fridge-1/series", params={"metric": "energy_kwh", "step": "1h"}
    )
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert "query parameter 'metric': device 'fridge-1' has no metric 'energy_kwh'" in message
    latest = (await client.get("/api/devices/fridge-1/latest")).json()
    have = sorted(v["metric"] for v in latest["values"])
    assert "temp_c" in have and f"its metrics: {have}" in message


async def test_a_metric_the_device_has_is_answered(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/devices/fridge-1/series", params={"metric": "temp_c", "step": "1h"}
    )
    assert response.status_code == 200 and response.json()["points"]


async def test_a_chart_of_a_metric_the_device_does_not_have_is_a_422(
    client: httpx.AsyncClient,
) -> None:
    """The chart is the same question drawn: an empty frame would look like a silent sensor."""
    url = "/api/devices/fridge-1/chart.svg"
    refused = await client.get(url, params={"metric": "energy_kwh"})
    assert refused.status_code == 422, refused.text
    assert "device 'fridge-1' has no metric 'energy_kwh'" in refused.json()["message"]
    drawn = await client.get(url, params={"metric": "temp_c"})
    assert drawn.status_code == 200 and drawn.text.startswith("<svg")
