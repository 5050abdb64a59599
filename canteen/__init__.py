"""The composition root: the `canteen` command (demo, serve, sim) and the wiring of gateway,
store and API into one service. Brokers for the demo and the tests live here too. No business
rules."""
