# Simplified Chinese: year, month, day with their characters ("3月3日 (周二) 03:30").
DATE_FORMAT = "Y年n月j日"
DATETIME_FORMAT = "Y年n月j日 H:i"
SHORT_DATE_FORMAT = "n月j日"
SHORT_DATETIME_FORMAT = "n月j日 (D) H:i"
TIME_FORMAT = "H:i"
