"""Notifications: events written to an outbox in the transaction that caused them, then
delivered to a chat webhook or by e-mail with retries (lib.notify.deliver)."""
