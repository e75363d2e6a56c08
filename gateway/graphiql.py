"""The GraphiQL page: our own HTML over files the gateway serves itself (see vendor_assets.py).

Strawberry's page loads React and GraphiQL from a CDN and lets GraphiQL keep request headers
in localStorage; here every script comes from /static, and static/graphiql.js gives GraphiQL a
storage that drops headers, so a wallet never outlives the page.
"""

from __future__ import annotations

import json
from html import escape

from . import vendor_assets

WALLET_HINT = "datachannels wallet --identity acme --delegate"

# The editor starts with how to get a wallet, then the README's footprint
# (docs/examples/footprint.json, which tests/test_graphiql.py holds this to).
DEFAULT_QUERY = f"""# In Headers below, set "X-Wallet" to the output of
#   {WALLET_HINT}
# (delegations: your private key stays in your wallet),
# then run this footprint.
query Footprint($input: FootprintInput!) {{
  footprint(input: $input) {{
    totalKgCO2e
    byScope {{ scope category kgCO2e }}
    lines {{
      kgCO2e channel activity basis scope category
      factor {{ value unit dataset recordKey txId provenance {{ sourceRow blockNumber }} }}
    }}
  }}
}}
"""
DEFAULT_VARIABLES = {
    "input": {
        "electricity": [{"kwh": 1000, "gridRegion": "CAMX"}],
        "freight": [
            {
                "mode": "SEA",
                "tonnes": 5,
                "origin": "CNSHA",
                "destination": "NLRTM",
                "vehicle": "container ship",
            }
        ],
        "flights": [{"origin": "LHR", "destination": "JFK", "cabinClass": "ECONOMY"}],
        "purchases": [{"naics": "331110", "amountUsd": 1000}],
    }
}

_SCRIPTS = ("vendor/react.production.min.js", "vendor/react-dom.production.min.js")


def page(endpoint: str = "/graphql", static: str = "/static") -> str:
    """The HTML of GraphiQL for `endpoint`, or of a page saying how to install its files."""
    if vendor_assets.missing():
        return _MISSING.format(command=escape("python gateway/vendor_assets.py"))
    config = {
        "endpoint": endpoint,
        "query": DEFAULT_QUERY,
        "variables": json.dumps(DEFAULT_VARIABLES, indent=2),
        "headers": json.dumps({"X-Wallet": ""}, indent=2),
    }
    # JSON in a script element: only "<" could end the element early.
    config_json = json.dumps(config).replace("<", "\\u003c")
    scripts = "\n".join(
        f'    <script src="{static}/{name}" defer></script>'
        for name in (*_SCRIPTS, "vendor/graphiql.min.js", "graphiql.js")
    )
    return f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Data Channels gateway: GraphiQL</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="stylesheet" href="{static}/vendor/graphiql.min.css">
    <style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
    <script type="application/json" id="datachannels-config">{config_json}</script>
{scripts}
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
  </body>
</html>
"""


_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL is not installed</title></head>
<body><p>This gateway was built without GraphiQL's files. Build it with npm on PATH, or run
<code>{command}</code> in its source tree. GraphQL itself works: POST to /graphql.</p></body>
</html>
"""
