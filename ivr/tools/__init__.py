"""Developer tools: demo data and the terminal phone (`ivr simulate`). No production module imports them; only the CLI offers them."""
