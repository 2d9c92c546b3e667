"""Prometheus metrics: jobs by status (read from the store at scrape time), training
durations (observed when the dispatcher sees a job end) and evaluate latency."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.jobs.store import JobStore


class _JobsByStatus(Collector):
    def __init__(self, store: JobStore) -> None:
        self.store = store

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily("relupde_jobs", "jobs in the store by status", labels=["status"])
        for status, count in self.store.count_by_status().items():
            family.add_metric([status], count)
        yield family


class Metrics:
    """The service's own registry (not the process-global one, so several apps can coexist)."""

    def __init__(self, store: JobStore) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_JobsByStatus(store))
        self.training_seconds = Histogram(
            "relupde_training_duration_seconds",
            "wall time from a job's start to its end, by final status",
            ["status"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=self.registry,
        )
        self.evaluate_seconds = Histogram(
            "relupde_evaluate_latency_seconds",
            "evaluate request latency by wire form",
            ["form"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.evaluate_points = Counter(
            "relupde_evaluate_points", "points evaluated", ["form"], registry=self.registry
        )
