"""Object storage least privilege: one MinIO user and policy per service, made through MinIO's admin API
(the `minio` package's pure-Python `MinioAdmin`; no `mc`). The chart makes the same users with its MinIO
setup Job (charts/reelstream/templates/minio.yaml) from the same documents (`policies_json`, generated into
charts/reelstream/files/storage-policies.json by `python -m devstack.deploy storage-policies`).

- worker: put objects in the artifact bucket (and read back what it put, to verify size and checksum: S3's
  HEAD needs s3:GetObject);
- ingest: get objects (presigned URLs are signed with its credentials, so they carry its rights) and delete;
  put only its local store's snapshots, under `_state/ingest/` (reelstream.state_snapshot: no tenant id starts
  with `_`, so no artifact lives there);
- the worker never touches `_state/` (denied, though its artifact rights span the bucket);
- nobody lists the bucket, writes elsewhere, or administers anything; admission, the scheduler and the
  notifier hold no storage credentials that can do anything (a user without a policy).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from minio.credentials.providers import StaticProvider
from minio.error import MinioAdminException
from minio.minioadmin import MinioAdmin

from reelstream.endpoints import Endpoints
from reelstream.state_snapshot import SNAPSHOT_PREFIX

logger = logging.getLogger(__name__)

SERVICES = ("ingest", "worker", "streams")  # streams: admission, scheduler, notifier (no rights at all)


def policies(bucket: str) -> dict[str, dict[str, Any]]:
    """Each service's IAM policy document (`streams` has none: a user without a policy is denied all)."""
    objects, whole = f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"
    snapshots, state = f"arn:aws:s3:::{bucket}/{SNAPSHOT_PREFIX}*", f"arn:aws:s3:::{bucket}/_state/*"
    location = {"Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [whole]}
    return {
        "ingest": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": [objects]},
                {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [snapshots]},
                location,
            ],
        },
        "worker": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [objects]},
                {"Effect": "Deny", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [state]},
                location,
            ],
        },
    }


def policies_json(bucket: str) -> str:
    return json.dumps(policies(bucket), indent=2, sort_keys=True)


@dataclass(frozen=True)
class ServiceCredentials:
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        return {"REELSTREAM_S3_ACCESS_KEY": self.access_key, "REELSTREAM_S3_SECRET_KEY": self.secret_key}


def _admin(endpoints: Endpoints) -> MinioAdmin:
    parts = urlsplit(endpoints.s3_endpoint)
    provider = StaticProvider(endpoints.s3_access_key, endpoints.s3_secret_key)
    return MinioAdmin(endpoint=parts.netloc, credentials=provider, secure=parts.scheme == "https")


def provision(endpoints: Endpoints, prefix: str = "reelstream") -> dict[str, ServiceCredentials]:
    """Make (or reset) each service's user with a fresh secret and its policy, with the root credentials
    of `endpoints`; the credentials by service."""
    admin = _admin(endpoints)
    documents = policies(endpoints.s3_bucket)
    made = {}
    for service in SERVICES:
        user = f"{prefix}-{service}"
        credentials = ServiceCredentials(user, secrets.token_urlsafe(24))
        admin.user_add(credentials.access_key, credentials.secret_key)
        if service in documents:
            admin.policy_add(user, policy=documents[service])
            admin.policy_set(user, user=user)
        made[service] = credentials
    return made


def storage_users(endpoints: Endpoints, prefix: str) -> dict[str, ServiceCredentials]:
    """`provision`, or nothing (every service keeps the given credentials) where the object store has no
    MinIO admin API or the given credentials may not use it (an existing S3 configured by the developer)."""
    try:
        return provision(endpoints, prefix)
    except (MinioAdminException, urllib3.exceptions.HTTPError) as exc:
        logger.warning("object storage users not made, the services share the given credentials: %s", exc)
        return {}
