"""Integration tests: functions and adapters against moto."""
