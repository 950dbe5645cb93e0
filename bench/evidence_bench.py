"""Benchmark for 08-performance.md target 6: confirm of a 10 MiB evidence file.

Measures the whole ``confirm_upload`` service path (object head, one streamed
read with SHA-256 + magic-byte sniffing + EXIF from the head bytes, the
database update) on a 10 MiB JPEG that carries EXIF GPS and capture time. Not a
test: run it by hand and copy the figures into bench/results/evidence.md.

    APP_ENV=test python bench/evidence_bench.py --runs 50
    APP_ENV=test python bench/evidence_bench.py --runs 50 --s3-endpoint http://127.0.0.1:8333 \\
        --s3-access-key KEY --s3-secret-key SECRET --s3-bucket bench

Memory: ``tracemalloc`` peak of Python allocations during one confirm (a
streamed read stays near the 1 MiB chunk + 256 KiB head; reading the object
whole would show ≥ 10 MiB), and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gotong.settings")
os.environ.setdefault("APP_ENV", "test")

SIZE = 10 * 1024 * 1024


def make_jpeg(size: int) -> bytes:
    """A real JPEG with EXIF (GPS, capture time, camera), padded after EOI to ``size`` bytes."""
    import piexif
    from PIL import Image

    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Bench", piexif.ImageIFD.Model: b"Cam"},
            "Exif": {
                piexif.ExifIFD.DateTimeOriginal: b"2026:11:20 10:00:00",
                piexif.ExifIFD.OffsetTimeOriginal: b"+07:00",
            },
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"S",
                piexif.GPSIFD.GPSLatitude: ((6, 1), (12, 1), (0, 1)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((106, 1), (48, 1), (0, 1)),
            },
        }
    )
    out = io.BytesIO()
    Image.effect_noise((1024, 1024), 64).convert("RGB").save(out, "JPEG", exif=exif, quality=95)
    data = out.getvalue()
    return data + os.urandom(size - len(data))


async def run(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.conf import settings

    from apps.accounts.domain import Principal
    from apps.core.db import get_db
    from apps.core.db.migrations import migrate
    from apps.core.ratelimit import overrides
    from apps.core.storage import get_storage
    from apps.evidence import services, services_uploads
    from apps.evidence.files import sha256_hex
    from gotong.config import RateLimit

    media = tempfile.mkdtemp(prefix="gotong-bench-media-")
    settings.MEDIA_ROOT = Path(media)
    if args.s3_endpoint:
        settings.CONFIG = dataclasses.replace(
            settings.CONFIG,
            s3_endpoint=args.s3_endpoint,
            s3_access_key=args.s3_access_key,
            s3_secret_key=args.s3_secret_key,
            s3_bucket=args.s3_bucket,
        )
    else:
        settings.CONFIG = dataclasses.replace(settings.CONFIG, s3_endpoint="")
    overrides["evidence_upload"] = RateLimit(1_000_000, 1, 1_000_000)
    db = get_db()
    await db.use("bench", "evidence")
    await migrate(db)
    principal = Principal("b" * 32, "bench", "bench@example.com", "user", "default", "j", "f", "bearer")
    contribution = await services.create_contribution(principal, {"title": "bench", "contribution_type": "custom"})
    data = make_jpeg(SIZE)
    digest = sha256_hex(data)
    storage = get_storage()

    async def one(measure_memory: bool = False) -> tuple[float, int]:
        ticket = await services_uploads.request_upload(
            principal,
            {
                "contribution_id": contribution["contribution_id"],
                "file_name": "big.jpg",
                "content_type": "image/jpeg",
                "size_bytes": len(data),
                "sha256": digest,
            },
        )
        upload = await services_uploads.repo.get_upload(ticket["upload_id"])
        await asyncio.to_thread(storage.put_bytes, upload["storage_key"], data, content_type="image/jpeg", metadata={})
        if measure_memory:
            tracemalloc.start()
        started = time.perf_counter()
        result = await services_uploads.confirm_upload(principal, ticket["upload_id"])
        elapsed = time.perf_counter() - started
        peak = 0
        if measure_memory:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if result["status"] != "verified" or result["exif"]["lat"] is None:
            raise RuntimeError(f"unexpected confirm result: {result}")
        await asyncio.to_thread(storage.delete, upload["storage_key"])
        return elapsed, peak

    for _ in range(args.warmup):
        await one()
    timings = [(await one())[0] * 1000 for _ in range(args.runs)]
    _, peak = await one(measure_memory=True)
    await db.close()
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    return {
        "backend": "s3" if args.s3_endpoint else "local",
        "runs": args.runs,
        "size_bytes": len(data),
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(timings[-1], 1),
        "tracemalloc_peak_kib": round(peak / 1024),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--s3-endpoint", default="")
    parser.add_argument("--s3-access-key", default="")
    parser.add_argument("--s3-secret-key", default="")
    parser.add_argument("--s3-bucket", default="gotong-bench")
    result = asyncio.run(run(parser.parse_args()))
    for key, value in result.items():
        print(f"{key}: {value}")
    verdict = "PASS" if result["p95_ms"] <= 300 and result["tracemalloc_peak_kib"] < 4096 else "FAIL"
    print(f"target 6 (p95 <= 300 ms, memory bounded): {verdict}")


if __name__ == "__main__":
    main()
