"""What a benchmark gets to work with: the scale, the dataset, the servers and where to put files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import Scale, env_int
from .data import Dataset


@dataclass
class Context:
    scale: Scale
    dataset: Dataset
    tmp: Path
    servers: Any
    gunicorn_workers: int = field(default_factory=lambda: env_int("BENCH_GUNICORN_WORKERS", 4))
    rq_workers: int = field(default_factory=lambda: env_int("BENCH_RQ_WORKERS", 2))

    def grow_to(self, shipments: int) -> None:
        """Seed up to `shipments` (PostgreSQL skips fsync only while loading)."""
        if self.dataset.shipments >= shipments:
            return
        with self.servers.loading():
            self.dataset.grow_to(shipments)

    def config(self) -> dict[str, Any]:
        return {
            "gunicorn_workers": self.gunicorn_workers,
            "rq_workers": self.rq_workers,
            "rq_worker_class": os.environ.get("BENCH_RQ_WORKER_CLASS", "cxhub.worker.SimpleWorker (default)"),
            "postgresql_settings": self.servers.settings,
            "dataset_shipments": self.dataset.shipments,
        }
