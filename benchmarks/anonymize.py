"""De-identification throughput: files per second on a phantom PHI DICOM corpus, by worker count.

    python benchmarks/anonymize.py [--studies 140] [--size 256] [--workers 1 2] [--shift-dates] [--clean-descriptors]

Writes the corpus once (``medmint data phantom --phi --format dicom``: DX images with sibling reports;
about 1.4 images per study), then anonymizes it into a fresh folder per worker count, timing the whole
``anonymize_folder`` call (walk, read, de-identify, write, report scrubbing, journal, audit log).
Prints one JSON object; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    from medmint.anonymize.corpus import anonymize_folder
    from medmint.anonymize.dicom_deid import DeidOptions
    from medmint.anonymize.keys import DeidKey
    from medmint.generators.datasets import write_phantom_dicom

    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=140)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--shift-dates", action="store_true")
    ap.add_argument("--clean-descriptors", action="store_true")
    args = ap.parse_args()

    options = DeidOptions(retain_modified_dates=args.shift_dates, clean_descriptors=args.clean_descriptors)
    key = DeidKey(os.urandom(32))  # a throwaway key: nothing here is kept
    with tempfile.TemporaryDirectory(prefix="medmint-bench-anonymize-") as tmp:
        src = Path(tmp) / "in"
        t = time.perf_counter()
        written = write_phantom_dicom(src, args.studies, seed=0, size=args.size, phi=True)
        corpus_s = time.perf_counter() - t
        files = int(written["n_images"])
        mb = sum(p.stat().st_size for p in src.rglob("*.dcm")) / 1e6
        runs = []
        for workers in args.workers:
            t = time.perf_counter()
            summary = anonymize_folder(src, Path(tmp) / f"out-{workers}", key, options, workers=workers)
            seconds = time.perf_counter() - t
            assert summary["ok"] == files, summary
            runs.append({"workers": workers, "seconds": round(seconds, 2),
                         "files_per_second": round(files / seconds, 1), "mb_per_second": round(mb / seconds, 1)})
    print(json.dumps({"files": files, "studies": args.studies, "image_size": args.size, "corpus_mb": round(mb, 1),
                      "reports": files, "options": options.profile_names()[1:], "cpu_count": os.cpu_count(),
                      "corpus_write_seconds": round(corpus_s, 2), "runs": runs,
                      "speedup": round(runs[-1]["files_per_second"] / runs[0]["files_per_second"], 2)}, indent=2))


if __name__ == "__main__":
    main()
