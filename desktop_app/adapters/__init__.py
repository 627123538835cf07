"""All I/O to the outside world: one long-lived httpx.AsyncClient per host, errors become core errors."""
