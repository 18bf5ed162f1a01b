"""simple-salesforce (PyPI) through tether's proxy, unchanged: a query, a record update and a
Bulk API 1.0 query (which authenticates with X-SFDC-Session only).

Run by the Rust test `proxy_python` with TETHER_INSTANCE_URL = the connection's
`proxy_instance_url` (https://c-{hex}.proxy.localhost, its own host name under tether's
`proxy_host_suffix`) and TETHER_API_KEY, the tether API key used as the session id. The
environment does the rest, as it would for any deployment: REQUESTS_CA_BUNDLE trusts the test
CA of the TLS front, and HTTPS_PROXY reaches that front (so `*.proxy.localhost` need not
resolve on this machine). No adapter, no patch: the library runs as shipped.
"""

import json
import os
import sys

from simple_salesforce import Salesforce


def main():
    sf = Salesforce(
        instance_url=os.environ["TETHER_INSTANCE_URL"],
        session_id=os.environ["TETHER_API_KEY"],
        version="64.0",
    )
    result = sf.query("SELECT Id, Name FROM Account")
    first = result["records"][0]
    status = sf.Account.update(first["Id"], {"Name": "Updated by simple-salesforce"})
    after = sf.Account.get(first["Id"])
    bulk = sf.bulk.Account.query("SELECT Id, Name FROM Account")
    json.dump(
        {
            "total": result["totalSize"],
            "update_status": status,
            "name_after": after["Name"],
            "bulk_total": len(list(bulk)),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
