"""`gracectl verify`: run each claim's capacity run or chaos scenario and judge the claim."""
