"""Rules, the alert lifecycle, notification channels, routing and escalation. Not built yet:
the gateway already hands it reading batches through the store writer's listeners."""
