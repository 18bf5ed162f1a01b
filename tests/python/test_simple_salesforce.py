"""simple-salesforce (PyPI) through tether's proxy: a query and a record update.

Run by the Rust test `proxy_python` with TETHER_PROXY_BASE = {public_url}/v1/proxy/{id} and
TETHER_API_KEY. simple-salesforce keeps only the host of `instance_url` and always speaks
https, so it cannot be pointed at a URL with a path; a requests transport adapter mounted on
its session maps its `https://{instance}/...` URLs onto the proxy base. The library itself
runs unchanged: the tether API key is its session id.
"""

import json
import os
import sys

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

INSTANCE = "tether-proxy.invalid"


class ProxyAdapter(HTTPAdapter):
    """Sends https://tether-proxy.invalid/... to {TETHER_PROXY_BASE}/..."""

    def __init__(self, base):
        super().__init__()
        self.base = base.rstrip("/")

    def send(self, request, **kwargs):
        request.url = self.base + request.url[len(f"https://{INSTANCE}"):]
        return super().send(request, **kwargs)


def main():
    base = os.environ["TETHER_PROXY_BASE"]
    session = requests.Session()
    adapter = ProxyAdapter(base)
    session.mount(f"https://{INSTANCE}/", adapter)
    sf = Salesforce(
        instance=INSTANCE,
        session_id=os.environ["TETHER_API_KEY"],
        session=session,
        version="64.0",
    )
    result = sf.query("SELECT Id, Name FROM Account")
    first = result["records"][0]
    status = sf.Account.update(first["Id"], {"Name": "Updated by simple-salesforce"})
    after = sf.Account.get(first["Id"])
    json.dump(
        {
            "total": result["totalSize"],
            "update_status": status,
            "name_after": after["Name"],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
