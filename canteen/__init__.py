"""The composition root: the `canteen` command (demo, serve, sim, report, eval) and the wiring
of gateway, store, alerts and API into one service. No business rules; the demo's brokers live
in `demo_broker`."""
