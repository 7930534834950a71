"""The memorisation gate's nearest-neighbour search at corpus scale: a 400k x 256 float16 index
(the size of a MIMIC-CXR-scale training set), searched exactly in chunks.

    python benchmarks/privacy_index.py [--rows 400000] [--dim 256] [--queries 256] [--chunk 65536]

Prints one JSON object: seconds per query batch, queries per second, the index's bytes and the
process's peak resident memory (so the chunking's bound can be read off). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import time


def main() -> None:
    import numpy as np

    from medmint.validators.privacy import nearest_distances

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--queries", type=int, default=256)
    ap.add_argument("--chunk", type=int, default=65536)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    index = rng.standard_normal((args.rows, args.dim), dtype=np.float32).astype(np.float16)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    queries[0] = index[12345]  # a training copy must come back at distance 0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    dist, row = nearest_distances(queries, index, chunk=args.chunk)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "rows": args.rows, "dim": args.dim, "queries": args.queries, "chunk": args.chunk,
        "seconds": round(seconds, 3), "queries_per_second": round(args.queries / seconds, 1),
        "index_mib": round(index.nbytes / 2**20, 1),
        "peak_rss_mib_before_search": round(rss_before / 1024, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "copy_found": bool(row[0] == 12345 and dist[0] == 0.0),
    }))


if __name__ == "__main__":
    main()
