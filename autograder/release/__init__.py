"""From solution notebooks to what students get: release, the course check (leaks), publish."""
