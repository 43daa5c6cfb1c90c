"""One key-encryption key directory per test process (what a Kubernetes Secret mounts in a cluster), shared
by every ingest and notifier a test starts, so that what one seals another opens."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from reelstream.crypto.provider import write_key

TEST_KEK = "test-kek-1"


@functools.cache
def shared_key_dir() -> str:
    path = Path(tempfile.mkdtemp(prefix="reelstream-keys-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    write_key(path, TEST_KEK)
    return str(path)
