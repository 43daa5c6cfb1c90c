"""The command-line client: `reelstream submit|status|cancel|keys` against a running API."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reelstream.errors import ReelstreamError

TERMINAL = {"succeeded", "failed", "canceled", "rejected", "expired"}


class ApiError(ReelstreamError):
    code = "api_error"


@dataclass(frozen=True)
class Client:
    base_url: str
    api_key: str

    def _http(self, timeout: float | None = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, timeout=timeout, headers={"Authorization": f"Bearer {self.api_key}"}
        )

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                problem = response.json()
                detail = problem.get("detail") or problem.get("title")
                errors = problem.get("errors") or []
                detail += "".join(f"\n  {e['field']}: {e['message']}" for e in errors)
            except (ValueError, KeyError, TypeError):
                detail = response.text[:500]
            raise ApiError(f"HTTP {response.status_code}: {detail}")
        body: dict[str, Any] = response.json()
        return body

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._http() as http:
            return self._check(http.post("/v1/jobs", json=body))

    def get(self, job_id: str) -> dict[str, Any]:
        with self._http() as http:
            return self._check(http.get(f"/v1/jobs/{job_id}"))

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self._http() as http:
            return self._check(http.post(f"/v1/jobs/{job_id}/cancel"))

    def create_key(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._http() as http:
            return self._check(http.post("/v1/admin/keys", json=body))

    def list_keys(self, tenant: str | None = None) -> dict[str, Any]:
        params = {"tenant": tenant} if tenant else None
        with self._http() as http:
            return self._check(http.get("/v1/admin/keys", params=params))

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        with self._http() as http:
            return self._check(http.delete(f"/v1/admin/keys/{key_id}"))

    def follow(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Every snapshot the server sends over SSE until the job ends."""
        with self._http(timeout=None) as http, http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            for line in response.iter_lines():
                if line.startswith("data:"):
                    yield json.loads(line[5:].strip())

    def download(self, job_id: str, target: Path) -> int:
        with self._http() as http:
            redirect = http.get(f"/v1/jobs/{job_id}/content")
            if redirect.status_code != 302:
                self._check(redirect)
            data = httpx.get(redirect.headers["location"], timeout=60).raise_for_status().content
        target.write_bytes(data)
        return len(data)


def progress_bar(job: dict[str, Any], width: int = 30) -> str:
    done = int(job["progress"] * width)
    stage = job.get("stage") or job["status"]
    where = f" #{job['queue_position'] + 1} in queue" if job.get("queue_position") is not None else ""
    return f"\r[{'#' * done}{'.' * (width - done)}] {job['progress'] * 100:5.1f}% {stage:<13}{where}"


def submit_and_wait(client: Client, body: dict[str, Any], wait: bool, output: Path | None) -> int:
    job = client.submit(body)
    print(f"job {job['id']} accepted (seed {job['parameters']['seed']})", file=sys.stderr)
    if not wait:
        print(json.dumps(job, indent=2))
        return 0
    for snapshot in client.follow(job["id"]):
        job = snapshot
        print(progress_bar(job), end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if job["status"] != "succeeded":
        print(
            f"job {job['id']} {job['status']}: {(job.get('error') or {}).get('message', '')}", file=sys.stderr
        )
        return 1
    target = output or Path(f"{job['id']}.mp4")
    size = client.download(job["id"], target)
    print(f"saved {target} ({size} bytes, {job['artifact']['frames']} frames)", file=sys.stderr)
    return 0
