"""Pickup slots for municipal reuse items: booking, reminders, check-in, no-shows."""
