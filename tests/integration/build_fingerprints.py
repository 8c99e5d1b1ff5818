"""What must match between two builds of the same inputs, config and seed."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


def fingerprint(out: Path, manifests) -> dict:
    """Each objective's manifest without created_at, and the sha256 of every file under it."""
    result = {}
    for name, manifest in manifests.items():
        data = json.loads(manifest.to_json())
        data.pop("created_at")
        files = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted((out / name).rglob("*.parquet"))}
        result[name] = {"manifest": data, "files": files}
    return result
