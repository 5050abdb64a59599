"""Meter counter semantics, consumption, tariffs, sub-metering, baselines and reports. Not built
yet: meters' cumulative readings are already stored by ingest."""
