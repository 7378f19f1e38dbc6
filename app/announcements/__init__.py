"""Announcements (公告): admins and marketing publish notices targeted by region and dealer type."""
