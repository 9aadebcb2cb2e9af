"""The runtime: workflow definitions and DAG validation, the engine, the agent loop, the journal.

* :mod:`~agent_sdk.runtime.workflow`: ``[workflows.<name>]`` → a validated DAG of tasks;
* :mod:`~agent_sdk.runtime.engine`: schedules a run (dependencies, priorities, concurrency,
  timeouts, retries, cancellation, failure policy) and resumes crashed runs;
* :mod:`~agent_sdk.runtime.context`: durable, retried, rate-limited, traced model and tool calls;
* :mod:`~agent_sdk.runtime.loop`: the tool-calling agent loop;
* :mod:`~agent_sdk.runtime.journal`: write-ahead journal and replay over a storage backend.
"""
