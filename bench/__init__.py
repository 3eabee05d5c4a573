"""hedge-monitor benchmark suite: ``python -m bench <scenario>`` from a source checkout (``make bench``).

Scenarios (docs/performance.md has the figures and how to read them):

* ``core``: events/s through the ``Processor`` on the in-process ``MemoryBus`` with 1, 1k and 10k
  portfolios (a pre-filled input is drained; 99 % price events, 1 % position changes), and 10k
  portfolios throttled to one snapshot per portfolio per second (the columnar tick path).
* ``fanout``: time for one price tick to reprice N held positions with the columnar store
  (``monitor.processor.columnar``) and, for comparison, with the per-book path; memory per position.
* ``snapshot``: µs per call of each stage of one risk snapshot (book, alerts, JSON, Prometheus
  export) for a two-leg book timed alone.
* ``e2e``: through a real Kafka broker, for a desk (1,000 portfolios) and a single trader (one
  portfolio): the processor's maximum drain rate, the sustained maximum, and the p50/p99 latency
  from an event's receive time to its snapshot being readable on hedge.risk at 25/50/80 % of it.
* ``ceiling``: in the same run as the processor's drain, a raw aiokafka getmany -> send loop on the
  same input; the processor's throughput as a ratio of it.

``--size tiny`` runs each scenario in seconds (the CI smoke test); ``--size full`` takes the medians of
at least three runs. Results print as a table and are written as JSON under ``bench-results/``.

The suite is not part of the installed package: the flags are ``monitor.commands.bench``'s, and
``hedge-monitor bench`` only prints the ``python -m bench`` command to run from a checkout.
"""
