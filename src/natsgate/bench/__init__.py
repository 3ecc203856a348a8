"""The benchmark: the system under test, its workloads, and ``report.json``.

::

    bench/
      cli.py        ``natsgate bench``: from an empty machine to a report
      stack.py      Stack: nats-server, the catalog service and the gateway, a process each
      scenarios.py  the workloads: the original experiment's three, and fairer ones
      runner.py     interleaved trials of every scenario over every transport
      sweeps.py     throughput against concurrency and service instances; highest rate
      failover.py   a nats-server node or a service instance killed mid-trial
      usage.py      CPU and memory of each process, per trial
      stats.py      medians, spread, ratios with bootstrap intervals
      meta.py       machine, versions and git revision, so a figure can be traced
      schema.py     the shape of ``report.json``, which :mod:`natsgate.report` renders
"""
