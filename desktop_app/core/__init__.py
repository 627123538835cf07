"""Pure domain: models, rules, scoring. No I/O, no Qt, no httpx."""
