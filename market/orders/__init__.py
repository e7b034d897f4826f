"""Orders: requests, acceptance with reservation, payment, deliveries (issue 5)."""
