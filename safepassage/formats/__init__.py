"""Date and time formats per language (``FORMAT_MODULE_PATH``).

Templates name a format (``DATETIME_FORMAT``, ``SHORT_DATETIME_FORMAT``,
``DATE_FORMAT``, ``TIME_FORMAT``) instead of spelling one, so a Korean or
Chinese reader sees year, month and day in their own order and words. Times
are always 24-hour: check-in deadlines at 03:30 must not be misread as
afternoon.
"""
