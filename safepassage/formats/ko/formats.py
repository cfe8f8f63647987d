# Korean: year, month, day with their counters; weekday in brackets ("3월 3일 (화) 03:30").
DATE_FORMAT = "Y년 n월 j일"
DATETIME_FORMAT = "Y년 n월 j일 H:i"
SHORT_DATE_FORMAT = "n월 j일"
SHORT_DATETIME_FORMAT = "n월 j일 (D) H:i"
TIME_FORMAT = "H:i"
