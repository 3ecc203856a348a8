"""Load generator: a minimal HTTP/1.1 client on asyncio protocols, closed and open loop.

::

    LoadPlan ──run_load()──> workers (thread, or spawned processes)
                               └─ ClosedLoop | OpenLoop ──> Http1Connection x N ──> server
                               └─ Recorder (HDR histograms, errors by class, timeline)
             <── LoadResult (merged exactly) ──┘

    LoadPlan, servers, subject_prefix ──run_nats_load()──> the same workers and Recorder
                               └─ NatsClosedLoop ──> NatsUpstream (the gateway's requester)

Built on ``asyncio.Protocol`` and uvloop rather than an HTTP client library, because a
general client costs several times the server's own work per request and would measure
itself instead of the server.
"""

from natsgate.load.nats_driver import run_nats_load
from natsgate.load.plan import DEFAULT_MAX_CONNECTIONS, LoadPlan, RequestSpec
from natsgate.load.recorder import ERROR_KINDS
from natsgate.load.result import LoadResult
from natsgate.load.runner import run_load

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "ERROR_KINDS",
    "LoadPlan",
    "LoadResult",
    "RequestSpec",
    "run_load",
    "run_nats_load",
]
