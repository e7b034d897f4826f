"""Notifications: how Meguri tells its users (in-app and by mail, in each user's language).

Every sender (orders, listing expiry, proposals, saved-search alerts, pickups) goes through
``services.notify_users`` or ``services.mail_users``; this area imports no other business
area, so any of them may use it.
"""
