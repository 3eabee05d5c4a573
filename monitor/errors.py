"""The root of hedge-monitor's exceptions: ``except HedgeMonitorError`` catches every one of them.

Each error is declared beside the code that raises it; this module holds only the root and imports
nothing, so the pure ``monitor.domain`` can use it too. An error that callers also catch as a
builtin keeps that builtin as a second base (``EventError`` is a ``ValueError`` as well), so code
catching the builtin keeps working. A library's errors are translated where the library is called,
with ``raise ... from exc`` (aiokafka's in ``monitor.bus.kafka``), so ``__cause__`` keeps the original.

The tree (class, its builtin base if any, the module declaring it):

* HedgeMonitorError
  + ConfigError (ValueError) -- monitor.config.problems: a config file has problems, all listed
  + AlertConfigError (ValueError) -- monitor.alerts.spec: an alert setting is invalid
  + SecretError (ValueError) -- monitor.secrets: a secret reference cannot be resolved
  + UsageError (ValueError) -- monitor.commands.plan: a command-line flag cannot be used
  + EventLoopError (RuntimeError) -- monitor.eventloop: an unknown or missing event loop
  + UnknownVenueError (ValueError) -- monitor.venues.registry: no module implements the venue
  + ScenarioError (ValueError) -- monitor.sim.scenario: a scenario file is malformed
  + EventError (ValueError) -- monitor.domain.events: an event field is invalid
  + CatalogError (ValueError) -- monitor.domain.instruments: a bad or unknown instrument
  + DecodeError (ValueError) -- monitor.codec: a topic value is not a canonical event
  + FrameError (ValueError) -- monitor.venues.base: a venue frame cannot be understood
  + UnknownInstrumentError (ValueError) -- monitor.processor.engine: an account event's
    instrument is not in the catalog
  + AlertStateError (ValueError) -- monitor.alerts.engine: a checkpointed alert state is invalid
  + IngestError -- monitor.ingest.http: a REST call failed before a response arrived
  + BusError (RuntimeError) -- monitor.bus.base: the message bus failed
    - BusUnavailableError -- monitor.bus.base: the broker cannot serve the call now; a retry may
      succeed
    - BusCommitError -- monitor.bus.base: the group refused an offset commit
    - BusUsageError -- monitor.bus.base: a call the bus does not allow in its current state
  + SimulatorError (ValueError) -- monitor.sim.server: a simulator control call is invalid
  + TermsError (ValueError) -- monitor.sim.terms: a simulator tier table is malformed
  + CrashTestError (RuntimeError) -- monitor.reliability.crashtest: the crash test could not finish
  + BridgeError (RuntimeError) -- monitor.alertmanager: the Alertmanager bridge is misconfigured or
    its posts are refused for good
  + SoakError (RuntimeError) -- monitor.reliability.soak: the soak could not run to the end

A test (tests/unit/test_errors.py) compares this drawing with the classes the package defines.
"""

from __future__ import annotations


class HedgeMonitorError(Exception):
    """Base class of every error hedge-monitor raises on purpose."""
