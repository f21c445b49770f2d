"""Worksheets: seeded variants, exercises by level, the sheet and key views and the Moodle quiz."""
