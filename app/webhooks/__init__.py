"""Outbound webhooks: admin-managed subscriptions, events written in the state change's transaction, signed
deliveries (Standard Webhooks) from an outbox with retries and a delivery log (``docs/integrations.md``)."""
