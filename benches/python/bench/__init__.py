"""Side-by-side benchmark harness: Pilum vs Lance (pylance) vs Parquet (pyarrow).

Modules, one purpose each:

- ``config``     command line, quick/full sizes, ``--only`` selection
- ``data``       synthetic tables and blobs from a fixed seed, Arrow IPC sources
- ``corpus``     a real text corpus from documentation files found offline
- ``engines``    one adapter per engine (write/open/scan/take/blobs/add column)
- ``timing``     timing loops, medians, result recording
- ``workloads``  the workloads on one table (write, size, scans, takes, add column)
- ``extras``     blob fetch and open-after-versions workloads
- ``cache``      dropping a dataset from the page cache, verified with fincore/mincore
- ``cold``       open-then-take/scan, warm and cold
- ``digest``     row hashes and digests of returned data
- ``verify``     expected digests from the source, cross-engine agreement
- ``s3``         moto server + counting proxy processes, engine access
- ``s3proxy``    the counting, latency-adding HTTP proxy (own process)
- ``s3work``     workloads over S3 with request counts
- ``rss``        peak memory of write and scan, each in a fresh subprocess
- ``meta``       machine, versions, command line, git commit
- ``report``     Markdown tables and JSON
- ``charts``     PNG bar charts (matplotlib, Agg)
- ``runner``     puts it together: data, disk budget, engines, phases

``benches/python/compare.py`` is the entry point.
"""
